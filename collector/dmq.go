package collector

import (
	"context"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	dmqStatusDesc = newDesc(namespace+"_dmq_node_status",
		"Status of a DMQ node, one series per status (1 for the current one): active, not_active, disabled (6.1), timeout, pending (up to 6.0: a notification peer that does not answer is pending).",
		prometheus.GaugeValue, "host", "port", "local", "status")
	dmqFailuresDesc = newDesc(namespace+"_dmq_node_consecutive_failures",
		"Consecutive failed notifications to a DMQ node; Kamailio resets it on success (6.1 on, with dmq fail_count_enabled).",
		prometheus.GaugeValue, "host", "port", "local")
	dmqFailuresFields = []field{{"fail_count", dmqFailuresDesc}}

	// dmqStatuses are the statuses dmq.list_nodes reports on 5.6 to 6.1.
	dmqStatuses = []string{"active", "not_active", "disabled", "timeout", "pending"}
)

// dmq.list_nodes: one struct per node {host, port, proto, resolved_ip,
// status, last_notification, local, [fail_count (6.1)]}.
func updateDMQListNodes(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	nodes, err := c.CallEncoded(ctx, "dmq.list_nodes")
	if err != nil {
		return err
	}
	p := newPicker()
	hostSlot, portSlot, localSlot, statusSlot := p.key("host"), p.key("port"), p.key("local"), p.key("status")
	failures := p.fields(dmqFailuresFields)
	return eachStruct("dmq.list_nodes", nodes, func(n binrpc.Value) error {
		if err := p.pick(n); err != nil {
			return err
		}
		host, err := p.text(hostSlot)
		if err != nil {
			return err
		}
		port, err := p.text(portSlot)
		if err != nil {
			return fmt.Errorf("%s: %w", host, err)
		}
		local, err := p.number(localSlot)
		if err != nil {
			return fmt.Errorf("%s:%s: %w", host, port, err)
		}
		localLabel := "false"
		if local != 0 {
			localLabel = "true"
		}
		status, err := p.text(statusSlot)
		if err != nil {
			return fmt.Errorf("%s:%s: %w", host, port, err)
		}
		for _, st := range dmqStatuses {
			s.Add(dmqStatusDesc, b2f(st == status), host, port, localLabel, st)
		}
		if !slices.Contains(dmqStatuses, status) && status != "" {
			s.Add(dmqStatusDesc, 1, host, port, localLabel, status) // a status of a later release
		}
		if err := addPicked(s, p, failures, host, port, localLabel); err != nil {
			return fmt.Errorf("%s:%s: %w", host, port, err)
		}
		return nil
	})
}
