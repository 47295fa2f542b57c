package collector

import (
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

func dmqNode(host string, local int64, status string, extra ...binrpc.Member) binrpc.Value {
	return binrpc.Struct(append([]binrpc.Member{
		binrpc.Named("host", binrpc.String(host)), binrpc.Named("port", binrpc.String("5060")),
		binrpc.Named("proto", binrpc.String("*")), binrpc.Named("resolved_ip", binrpc.String(host)),
		binrpc.Named("status", binrpc.String(status)), binrpc.Named("last_notification", binrpc.Int(0)),
		binrpc.Named("local", binrpc.Int(local)),
	}, extra...)...)
}

// Each node has one series per status, the current one 1; fail_count
// (6.1) is a gauge.
func TestDMQListNodes(t *testing.T) {
	for _, tt := range []struct {
		name     string
		nodes    []binrpc.Value // nil: the 5.6.3 recording
		peer     string         // the peer's status
		failures float64        // -1: no fail_count
		extra    string         // a status outside the known ones
	}{
		{"5.6.3 recording, both active", nil, "active", -1, ""},
		{"5.x peer gone (pending)", []binrpc.Value{dmqNode("127.0.0.4", 0, "pending"), dmqNode("127.0.0.3", 1, "active")}, "pending", -1, ""},
		{"6.1 peer gone", []binrpc.Value{
			dmqNode("127.0.0.4", 0, "not_active", binrpc.Named("fail_count", binrpc.Int(7))),
			dmqNode("127.0.0.3", 1, "active", binrpc.Named("fail_count", binrpc.Int(0)))}, "not_active", 7, ""},
		{"a later release's status", []binrpc.Value{dmqNode("127.0.0.4", 0, "draining"), dmqNode("127.0.0.3", 1, "active")}, "draining", -1, "draining"},
		{"5.8.8 recording, peer stopped", recordedValues(t, "5.8.8", "dmq.list_nodes"), "pending", -1, ""},
		{"6.1.4 recording, peer stopped", recordedValues(t, "6.1.4", "dmq.list_nodes"), "not_active", 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var override map[string]fakectl.Response
			if tt.nodes != nil {
				override = map[string]fakectl.Response{"dmq.list_nodes": {Values: tt.nodes}}
			}
			fams := gather(t, newTestExporter(t, replay(t, "unix", override), 5*time.Second))
			if v := success(fams, "dmq.list_nodes"); v != 1 {
				t.Fatalf("success = %v", v)
			}
			for _, node := range []struct{ host, local, status string }{
				{"127.0.0.3", "true", "active"}, {"127.0.0.4", "false", tt.peer},
			} {
				sum := 0.0
				for _, st := range append(dmqStatuses, tt.extra) {
					v, ok := sampleValue(fams, "kamailio_dmq_node_status", map[string]string{"host": node.host, "local": node.local, "port": "5060", "status": st})
					if st == "" {
						continue
					}
					if st == tt.extra && node.status != st {
						if ok {
							t.Errorf("%s: a series for %s, the other node's status", node.host, st)
						}
						continue
					}
					if !ok {
						t.Errorf("%s: no series for status %s", node.host, st)
					}
					if want := b2f(st == node.status); v != want {
						t.Errorf("%s status %s = %v, want %v", node.host, st, v, want)
					}
					sum += v
				}
				if sum != 1 {
					t.Errorf("%s: %v statuses are 1, want one", node.host, sum)
				}
			}
			v, ok := sampleValue(fams, "kamailio_dmq_node_consecutive_failures", map[string]string{"host": "127.0.0.4"})
			if tt.failures < 0 && ok {
				t.Errorf("fail_count exported although the reply has none")
			}
			if tt.failures >= 0 && (!ok || v != tt.failures) {
				t.Errorf("fail_count = %v %v, want %v", v, ok, tt.failures)
			}
		})
	}
}

func TestDMQBadReply(t *testing.T) {
	for name, vals := range map[string][]binrpc.Value{
		"no host":          {binrpc.Struct(binrpc.Named("port", binrpc.String("5060")))},
		"not structs":      {binrpc.String("127.0.0.4")},
		"local not number": {binrpc.Struct(binrpc.Named("host", binrpc.String("h")), binrpc.Named("port", binrpc.String("5060")), binrpc.Named("status", binrpc.String("active")), binrpc.Named("local", binrpc.String("yes")))},
	} {
		t.Run(name, func(t *testing.T) {
			collectorFails(t, map[string]fakectl.Response{"dmq.list_nodes": {Values: vals}}, "dmq.list_nodes", "kamailio_dmq_node_status")
		})
	}
}
