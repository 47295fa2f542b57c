// Package collector turns the replies of Kamailio's RPC methods, read over
// BINRPC, into Prometheus metrics.
//
// A collector is named after the RPC method it calls (the `collector` label
// of the scrape metrics, the --[no-]collector.<name> flag); collectors lists
// them all, in scrape order, with the requests each sends. One file per
// Kamailio module or RPC family holds the collectors; the framework is
// collector.go (the exporter and its scrape), sink.go (families, the
// families several collectors fill, and the transactional Sink), handler.go
// (HTTP) and reply.go (reading replies). No collector's file uses what
// another collector's file defines: what two share lives in the framework.
// The requests go over a binrpc.Session; the series go to a page
// (internal/page), which writes the exposition.
//
// # A scrape
//
// A scrape asks core.uptime, and system.listMethods once per Kamailio run,
// then sends every enabled collector's requests back to back (Kamailio
// answers them in order, without waiting for the exporter between them),
// reads every reply (ctl cuts a reply the socket cannot take while the
// exporter is busy converting an earlier one), then runs the collectors in
// order, each taking its replies. A collector whose module Kamailio has not
// loaded (no method of its name's module) is skipped without a word; one
// that needs a method this Kamailio lacks reports success 0 and says which,
// once per run. What a Kamailio run has shown (kamailioRun: its methods, a
// reply too large for ctl, its statistics groups) chooses the requests
// until it restarts. A collector that fails exports nothing. The fetch of
// Kamailio's xhttp_prom page (custom_metrics) runs meanwhile, within the
// same deadline. Concurrent scrapes share one round (singleflight).
//
// # Reading a reply: two ways
//
// One struct (core.tcp_info, tm.stats, tls.info…): callStruct, then
// addFields with a field table (member name → family), or text and number
// for a member that is a label.
//
// A list of structs, one per process, table, node, destination… (core.psa,
// pkg.stats, htable, dmq, uac, keepalive, rtpengine, dispatcher):
// Caller.CallEncoded leaves the reply encoded, eachStruct goes through it,
// and a picker, built once, takes from each struct the members it was asked
// for by name (picker.key, picker.fields) in one pass over its bytes,
// without building a member slice; addPicked adds a field table's members.
// A struct member that is a struct is picked in the same pass by a picker of
// its own (picker.sub: dispatcher's ATTRS and LATENCY). A large instance's
// replies cost no decoding this way.
//
// Two collectors walk what no name list describes, with the same one-pass
// walk underneath: stats.fetch takes every member of its struct
// (binrpc.Value.Each), and dispatcher.list nests sets in records
// (binrpc.Cursor.Walk).
//
// # Adding a collector
//
//  1. The file: collector/<module>.go, named after the Kamailio module or
//     RPC family (tm.go).
//  2. Its families: package-level newDesc(namespace+"_<name>", HELP, type,
//     labels...), a gauge unless the value only ever rises; a field table
//     []field{{"<member>", desc}} for the numeric members. A family another
//     collector fills too goes to sink.go, marked shared.
//  3. Its update function, func update<Method>(ctx, c Caller, cfg *Settings,
//     s *Sink) error, reading its reply one of the two ways above. A fault
//     that means "nothing configured" (no sets, no tables) returns nil;
//     every other error is returned, wrapped with what was being read, and
//     the framework reports the collector failed and drops its series.
//  4. Its entry in collectors (collector.go), in scrape order: name (the RPC
//     method: its module part decides when the collector is skipped), help,
//     update, and calls when it sends anything but its bare method. Every
//     request it makes is declared there, so that it goes out with the
//     scrape's others; TestCollectorsCallWhatTheyDeclare fails otherwise.
//  5. Its replies, recorded from every release of the matrix: a record line
//     in scripts/record-replies.sh, run against each release
//     (KAMAILIO_PREFIX=$(scripts/kamailio.sh build VERSION)); it rewrites
//     the goldens and shows what changed.
//  6. Its test, collector/<module>_test.go: eachRelease with
//     compareCollector (expected text inline) or compareCollectorGolden
//     (testdata/<release>/<name>.prom), and its faults with collectorFails;
//     then the README's collector table (TestREADMECollectorTable) and the
//     end-to-end families goldens (go test -tags e2e ./e2e -update).
package collector
