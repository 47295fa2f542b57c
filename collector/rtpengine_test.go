package collector

import (
	"fmt"
	"testing"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// rtpengine.show all: one series per node, labelled with its url, set,
// index and weight; every release answers alike (6.x adds "active"). 5.5.4
// and 5.7.4 were recorded on 127.0.0.3, the others on 127.0.0.1.
func TestRtpengineShow(t *testing.T) {
	const want = `
# HELP kamailio_rtpengine_enabled rtpengine connection status
# TYPE kamailio_rtpengine_enabled gauge
kamailio_rtpengine_enabled{index="0",set="0",url="udp:%s:2223",weight="1"} 1
`
	eachRelease(t, func(t *testing.T, release string) {
		addr := "127.0.0.1"
		if release == "5.5.4" || release == "5.7.4" {
			addr = "127.0.0.3"
		}
		compareCollector(t, release, "rtpengine.show", fmt.Sprintf(want, addr))
	})
}

// node is one node of an rtpengine.show reply; active < 0 leaves it out,
// as 5.x does.
func node(url string, disabled, active int64) binrpc.Value {
	n := binrpc.Struct(
		binrpc.Named("url", binrpc.String(url)),
		binrpc.Named("set", binrpc.Int(0)),
		binrpc.Named("index", binrpc.Int(0)),
		binrpc.Named("weight", binrpc.Int(1)),
		binrpc.Named("disabled", binrpc.Int(disabled)),
		binrpc.Named("recheck_ticks", binrpc.Int(0)))
	if active >= 0 {
		n.Members = append(n.Members, binrpc.Named("active", binrpc.Int(active)))
	}
	return n
}

// A node is enabled when it is neither disabled nor inactive (a failed
// node waiting for its re-check has disabled 0 but active 0).
func TestRtpengineNodeStates(t *testing.T) {
	fams := collectorFamilies(t, defaultRelease, "rtpengine.show", map[string]fakectl.Response{
		"rtpengine.show_all": {Values: []binrpc.Value{
			node("udp:up5x:2223", 0, -1),
			node("udp:up6x:2223", 0, 1),
			node("udp:disabled:2223", 1, 1),
			node("udp:failed:2223", 0, 0),
		}},
	})
	for url, want := range map[string]float64{
		"udp:up5x:2223": 1, "udp:up6x:2223": 1, "udp:disabled:2223": 0, "udp:failed:2223": 0,
	} {
		if v, ok := sampleValue(fams, "kamailio_rtpengine_enabled", map[string]string{"url": url}); !ok || v != want {
			t.Errorf("kamailio_rtpengine_enabled{url=%q} = %v %v, want %v", url, v, ok, want)
		}
	}
}

// Kamailio without rtpengine sets answers with fault 404 "... no sets
// ...": the collector succeeds and exports nothing. Another 404 fails it.
func TestRtpengineNoSets(t *testing.T) {
	fams := collectorFamilies(t, defaultRelease, "rtpengine.show", map[string]fakectl.Response{
		"rtpengine.show_all": {Fault: &binrpc.FaultError{Code: 404, Message: "Instance not found (no sets loaded)"}},
	})
	if len(fams) != 0 {
		t.Errorf("%d families without sets:\n%s", len(fams), exposition(t, fams))
	}
	fams = scrapeOnly(t, defaultRelease, "rtpengine.show", map[string]fakectl.Response{
		"rtpengine.show_all": {Fault: &binrpc.FaultError{Code: 404, Message: "Instance not found"}},
	})
	if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "rtpengine.show"}); !ok || v != 0 {
		t.Errorf("rtpengine.show success after another 404: %v %v, want 0", v, ok)
	}
}
