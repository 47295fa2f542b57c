package collector

import (
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// core.psa: one series per process, labelled with its index, pid, rank and
// description, valued with its status.
func TestCorePSA(t *testing.T) {
	eachRelease(t, func(t *testing.T, release string) {
		compareCollectorGolden(t, release, "core.psa")
	})
}

// core.runinfo: the uptime, labelled with the build (5.6.3's Debian build
// has no compile time). 5.5 has no core.runinfo: the same series comes
// from core.uptime and core.info.
func TestCoreRuninfo(t *testing.T) {
	const head = `# HELP kamailio_core_uptime Uptime in seconds
# TYPE kamailio_core_uptime gauge
`
	want := map[string]string{
		"5.5.4": head + `kamailio_core_uptime{compiled="19:52:41 Dec  7 2026",compiler="gcc 12.2.0",version="5.5.4"} 16`,
		"5.7.4": head + `kamailio_core_uptime{compiled="19:54:27 Dec  7 2026",compiler="gcc 12.2.0",version="5.7.4"} 17`,
		"5.6.3": head + `kamailio_core_uptime{compiled="",compiler="gcc 12.2.0",version="5.6.3"} 198`,
		"5.8.8": head + `kamailio_core_uptime{compiled="03:57:49 Nov 26 2026",compiler="gcc 12.2.0",version="5.8.8"} 24`,
		"6.0.7": head + `kamailio_core_uptime{compiled="04:00:34 Nov 26 2026",compiler="gcc 12.2.0",version="6.0.7"} 12`,
		"6.1.4": head + `kamailio_core_uptime{compiled="03:54:10 Nov 26 2026",compiler="gcc 12.2.0",version="6.1.4"} 14`,
	}
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "core.runinfo", want[release])
	})
}

// core.tcp_info: the TCP readers and limits, and the TLS limit and
// connections; every release answers alike.
func TestCoreTCPInfo(t *testing.T) {
	const want = `
# HELP kamailio_tcp_max_connections TCP connection limit
# TYPE kamailio_tcp_max_connections gauge
kamailio_tcp_max_connections 2048
# HELP kamailio_tcp_readers TCP readers
# TYPE kamailio_tcp_readers gauge
kamailio_tcp_readers 2
# HELP kamailio_tls_connections Opened TLS connections
# TYPE kamailio_tls_connections gauge
kamailio_tls_connections 0
# HELP kamailio_tls_max_connections TLS connection limit
# TYPE kamailio_tls_max_connections gauge
kamailio_tls_max_connections 2048
`
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "core.tcp_info", want)
	})
}

// Kamailio without TCP answers core.tcp_info with a fault: the collector
// succeeds and exports nothing. Another fault fails it.
func TestCoreTCPInfoWithoutTCP(t *testing.T) {
	for _, msg := range []string{"tcp support disabled", "tcp support not compiled"} {
		t.Run(msg, func(t *testing.T) {
			fams := collectorFamilies(t, defaultRelease, "core.tcp_info", map[string]fakectl.Response{
				"core.tcp_info": {Fault: &binrpc.FaultError{Code: 500, Message: msg}},
			})
			if len(fams) != 0 {
				t.Errorf("%d families without TCP:\n%s", len(fams), exposition(t, fams))
			}
		})
	}
	fams := scrapeOnly(t, defaultRelease, "core.tcp_info", map[string]fakectl.Response{
		"core.tcp_info": {Fault: &binrpc.FaultError{Code: 500, Message: "internal error"}},
	})
	if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "core.tcp_info"}); !ok || v != 0 {
		t.Errorf("core.tcp_info success after another fault: %v %v, want 0", v, ok)
	}
}

// core.info: a constant 1 labelled with the version and the build, the
// source id's trailing space trimmed.
func TestCoreInfo(t *testing.T) {
	const head = `# HELP kamailio_build_info Kamailio's version and build, from core.info; constant 1.
# TYPE kamailio_build_info gauge
`
	want := map[string]string{
		"5.5.4": head + `kamailio_build_info{compiled="19:52:41 Dec  7 2026",compiler="gcc 12.2.0",flags="USE_TCP, USE_TLS, USE_SCTP, TLS_HOOKS, USE_RAW_SOCKS, DISABLE_NAGLE, USE_MCAST, DNS_IP_HACK, SHM_MMAP, PKG_MALLOC, Q_MALLOC, F_MALLOC, TLSF_MALLOC, DBG_SR_MEMORY, USE_FUTEX, FAST_LOCK-ADAPTIVE_WAIT, USE_DNS_CACHE, USE_DNS_FAILOVER, USE_NAPTR, USE_DST_BLOCKLIST, HAVE_RESOLV_RES, TLS_PTHREAD_MUTEX_SHARED",sourceid="unknown",version="kamailio 5.5.4"} 1`,
		"5.7.4": head + `kamailio_build_info{compiled="19:54:27 Dec  7 2026",compiler="gcc 12.2.0",flags="USE_TCP, USE_TLS, USE_SCTP, TLS_HOOKS, USE_RAW_SOCKS, DISABLE_NAGLE, USE_MCAST, DNS_IP_HACK, SHM_MMAP, PKG_MALLOC, MEM_JOIN_FREE, Q_MALLOC, F_MALLOC, TLSF_MALLOC, DBG_SR_MEMORY, USE_FUTEX, FAST_LOCK-ADAPTIVE_WAIT, USE_DNS_CACHE, USE_DNS_FAILOVER, USE_NAPTR, USE_DST_BLOCKLIST, HAVE_RESOLV_RES, TLS_PTHREAD_MUTEX_SHARED",sourceid="unknown",version="kamailio 5.7.4"} 1`,
		"5.6.3": head + `kamailio_build_info{compiled="",compiler="gcc 12.2.0",flags="USE_TCP, USE_TLS, USE_SCTP, TLS_HOOKS, USE_RAW_SOCKS, DISABLE_NAGLE, USE_MCAST, DNS_IP_HACK, SHM_MMAP, PKG_MALLOC, Q_MALLOC, F_MALLOC, TLSF_MALLOC, DBG_SR_MEMORY, USE_FUTEX, FAST_LOCK-ADAPTIVE_WAIT, USE_DNS_CACHE, USE_DNS_FAILOVER, USE_NAPTR, USE_DST_BLOCKLIST, HAVE_RESOLV_RES, TLS_PTHREAD_MUTEX_SHARED",sourceid="unknown",version="kamailio 5.6.3"} 1`,
		"5.8.8": head + `kamailio_build_info{compiled="03:57:49 Nov 26 2026",compiler="gcc 12.2.0",flags="USE_TCP, USE_TLS, USE_SCTP, TLS_HOOKS, USE_RAW_SOCKS, DISABLE_NAGLE, USE_MCAST, DNS_IP_HACK, SHM_MMAP, PKG_MALLOC, MEM_JOIN_FREE, Q_MALLOC, F_MALLOC, TLSF_MALLOC, DBG_SR_MEMORY, USE_FUTEX, FAST_LOCK-ADAPTIVE_WAIT, USE_DNS_CACHE, USE_DNS_FAILOVER, USE_NAPTR, USE_DST_BLOCKLIST, HAVE_RESOLV_RES, TLS_PTHREAD_MUTEX_SHARED",sourceid="unknown",version="kamailio 5.8.8"} 1`,
		"6.0.7": head + `kamailio_build_info{compiled="04:00:34 Nov 26 2026",compiler="gcc 12.2.0",flags="USE_TCP, USE_TLS, USE_SCTP, TLS_HOOKS, USE_RAW_SOCKS, DISABLE_NAGLE, USE_MCAST, DNS_IP_HACK, SHM_MMAP, PKG_MALLOC, MEM_JOIN_FREE, Q_MALLOC, F_MALLOC, TLSF_MALLOC, DBG_SR_MEMORY, USE_FUTEX, USE_DNS_CACHE, USE_DNS_FAILOVER, USE_NAPTR, USE_DST_BLOCKLIST, HAVE_RESOLV_RES, TLS_PTHREAD_MUTEX_SHARED",sourceid="unknown",version="kamailio 6.0.7"} 1`,
		"6.1.4": head + `kamailio_build_info{compiled="03:54:10 Nov 26 2026",compiler="gcc 12.2.0",flags="USE_TCP, USE_TLS, USE_SCTP, TLS_HOOKS, USE_RAW_SOCKS, DISABLE_NAGLE, USE_MCAST, DNS_IP_HACK, SHM_MMAP, PKG_MALLOC, MEM_JOIN_FREE, Q_MALLOC, F_MALLOC, TLSF_MALLOC, DBG_SR_MEMORY, DBG_QM_MALLOC, DBG_F_MALLOC, DBG_TLSF_MALLOC, USE_FUTEX, USE_DNS_CACHE, USE_DNS_FAILOVER, USE_NAPTR, USE_DST_BLOCKLIST, HAVE_RESOLV_RES, TLS_PTHREAD_MUTEX_SHARED",sourceid="unknown",version="kamailio 6.1.4"} 1`,
	}
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "core.info", want[release])
	})
}

// core.shmmem, alone (stats.fetch's shmem group fills the same families
// when it runs): the shared memory sizes and fragments.
func TestCoreShmmem(t *testing.T) {
	const head = `# HELP kamailio_shm_bytes Shared memory sizes
# TYPE kamailio_shm_bytes gauge
`
	const frags = `
# HELP kamailio_shm_fragments Shared memory fragment count
# TYPE kamailio_shm_fragments gauge
`
	want := map[string]string{
		// 5.5's and 5.6's sizes are 32-bit: asked again in KiB.
		"5.5.4": head + `kamailio_shm_bytes{type="total"} 67108864
kamailio_shm_bytes{type="free"} 61524992
kamailio_shm_bytes{type="used"} 4001792
kamailio_shm_bytes{type="real_used"} 5582848
kamailio_shm_bytes{type="max_used"} 6194176` + frags + `kamailio_shm_fragments 46`,
		"5.7.4": head + `kamailio_shm_bytes{type="total"} 67108864
kamailio_shm_bytes{type="free"} 61499648
kamailio_shm_bytes{type="used"} 4015200
kamailio_shm_bytes{type="real_used"} 5609216
kamailio_shm_bytes{type="max_used"} 6231040` + frags + `kamailio_shm_fragments 46`,
		"5.6.3": head + `kamailio_shm_bytes{type="total"} 67108864
kamailio_shm_bytes{type="free"} 61591552
kamailio_shm_bytes{type="used"} 3988480
kamailio_shm_bytes{type="real_used"} 5516288
kamailio_shm_bytes{type="max_used"} 6118400` + frags + `kamailio_shm_fragments 46`,
		"5.8.8": head + `kamailio_shm_bytes{type="total"} 67108864
kamailio_shm_bytes{type="free"} 61527152
kamailio_shm_bytes{type="used"} 3979072
kamailio_shm_bytes{type="real_used"} 5581712
kamailio_shm_bytes{type="max_used"} 5617824` + frags + `kamailio_shm_fragments 7`,
		"6.0.7": head + `kamailio_shm_bytes{type="total"} 67108864
kamailio_shm_bytes{type="free"} 61476144
kamailio_shm_bytes{type="used"} 4028064
kamailio_shm_bytes{type="real_used"} 5632720
kamailio_shm_bytes{type="max_used"} 5633568` + frags + `kamailio_shm_fragments 2`,
		"6.1.4": head + `kamailio_shm_bytes{type="total"} 67108864
kamailio_shm_bytes{type="free"} 61528400
kamailio_shm_bytes{type="used"} 4028672
kamailio_shm_bytes{type="real_used"} 5580464
kamailio_shm_bytes{type="max_used"} 5581296` + frags + `kamailio_shm_fragments 2`,
	}
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "core.shmmem", want[release])
	})
}

// Kamailio 5.6 cuts core.shmmem's sizes to 32 bits: recorded from 5.6.3
// with a 5 000 MB pool (-m 5000), whose total reads 947 912 704. The
// exporter asks the sizes in KiB and reports the pool whole, as the shmem
// statistics recorded beside them say.
func TestCoreShmmemPast4GiB(t *testing.T) {
	recs := loadRelease(t, defaultRelease)
	stats, err := binrpc.DecodePayload(recs["stats.fetch_shmem_5g"].Payload)
	if err != nil || len(stats) != 1 {
		t.Fatal(err)
	}
	total, err := number(stats[0], "shmem.total_size")
	if err != nil || total != 5242880000 {
		t.Fatalf("recorded shmem.total_size %v %v", total, err)
	}
	plain, inKiB := recs["core.shmmem_5g"], recs["core.shmmem_k_5g"]
	fams := collectorFamilies(t, defaultRelease, "core.shmmem", map[string]fakectl.Response{
		"core.shmmem": {Recorded: &plain}, "core.shmmem_k": {Recorded: &inKiB},
	})
	if v, ok := sampleValue(fams, "kamailio_shm_bytes", map[string]string{"type": "total"}); !ok || v != total {
		t.Errorf("kamailio_shm_bytes{type=total} = %v %v, want %v", v, ok, total)
	}
	free, _ := number(stats[0], "shmem.free_size")
	if v, ok := sampleValue(fams, "kamailio_shm_bytes", map[string]string{"type": "free"}); !ok || v < 0.99*free || v > free {
		t.Errorf("kamailio_shm_bytes{type=free} = %v %v, want about %v", v, ok, free)
	}
}

// With stats.fetch switched off, core.shmmem still reports shared memory.
func TestShmmemWithoutStatsFetch(t *testing.T) {
	s := replay(t, "unix", nil)
	addr, _ := binrpc.ParseURI(s.URI())
	off := false
	e := NewExporter(addr, 5*time.Second, testSettings, Selection{"stats.fetch": &off}, promslog.NewNopLogger())
	fams := gather(t, e)
	if v, ok := sampleValue(fams, "kamailio_shm_bytes", map[string]string{"type": "total"}); !ok || v != 67108864 {
		t.Errorf("kamailio_shm_bytes{type=total} = %v %v", v, ok)
	}
	if _, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); ok {
		t.Errorf("stats.fetch ran although disabled")
	}
}
