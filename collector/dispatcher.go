package collector

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	dsLabels       = []string{"set_id", "destination", "set_name"}
	dsTargetDesc   = newDesc(namespace+"_dispatcher_list_target", "Target status.", prometheus.GaugeValue, dsLabels...)
	dsFlagsDesc    = newDesc(namespace+"_dispatcher_list_target_flags_status", "Target flags.", prometheus.GaugeValue, "set_id", "destination", "set_name", "flags")
	dsPriorityDesc = newDesc(namespace+"_dispatcher_list_target_priority", "Target Priority.", prometheus.GaugeValue, dsLabels...)
	dsAttrsFields  = []field{
		{"WEIGHT", newDesc(namespace+"_dispatcher_list_target_weight", "Target Weight.", prometheus.GaugeValue, dsLabels...)},
		{"RWEIGHT", newDesc(namespace+"_dispatcher_list_target_rweight", "Target rweight.", prometheus.GaugeValue, dsLabels...)},
	}
	dsLatencyFields = []field{
		{"AVG", newDesc(namespace+"_dispatcher_list_target_latency_avg", "Target Latency Average.", prometheus.GaugeValue, dsLabels...)},
		{"STD", newDesc(namespace+"_dispatcher_list_target_latency_std", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
		{"EST", newDesc(namespace+"_dispatcher_list_target_latency_est", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
		{"MAX", newDesc(namespace+"_dispatcher_list_target_latency_max", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
		{"TIMEOUT", newDesc(namespace+"_dispatcher_list_target_latency_timeout", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
	}
)

// dispatcherUp tells whether a destination takes traffic, from the first
// letter of its FLAGS: A (active) and T (trying: failing probes but not yet
// past ds_probing_threshold, still selected) are up; I (inactive) and
// D (disabled) are down.
func dispatcherUp(flags string) bool {
	return flags != "" && (flags[0] == 'A' || flags[0] == 'T')
}

// dispatcher.list: {NRSETS, RECORDS{SET{ID, TARGETS{DEST{URI, FLAGS,
// PRIORITY, [ATTRS{…WEIGHT, RWEIGHT…}], [LATENCY{AVG, STD, EST, MAX,
// TIMEOUT}]}…}}…}}, walked in one pass (binrpc.Value.Walk), each
// destination picked as it comes: thousands of destinations build no
// member slice. No sets loaded (fault 500 "No Destination Sets") is an
// empty result.
func updateDispatcherList(ctx context.Context, c Caller, cfg *Settings, s *Sink) error {
	top, err := callEncodedStruct(ctx, c, "dispatcher.list")
	if binrpc.IsFault(err, 500, "No Destination Sets") {
		return nil
	}
	if err != nil {
		return err
	}
	w := newDestWalker(s)
	err = eachNamed(top, "RECORDS", func(records *binrpc.Cursor) error {
		return eachNamed(records, "SET", func(set *binrpc.Cursor) error {
			return w.walkSet(set, cfg.DispatcherSetNames)
		})
	})
	if err != nil {
		return fmt.Errorf("dispatcher.list: %w", err)
	}
	return nil
}

// walker is a container to walk: a binrpc.Value, or the *binrpc.Cursor of
// a walk at one.
type walker interface {
	Walk(fn func(*binrpc.Cursor) error) error
}

// eachNamed calls fn with each member named name of the struct v.
func eachNamed(v walker, name string, fn func(*binrpc.Cursor) error) error {
	return v.Walk(func(c *binrpc.Cursor) error {
		if c.Name() != name {
			return nil
		}
		if err := fn(c); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

// destWalker converts destinations, reusing its pickers.
type destWalker struct {
	s                     *Sink
	setID, setName        string
	dest, attrs, latency  *picker
	uri, flags, priority  slot
	attrFields, latFields pickedFields
}

func newDestWalker(s *Sink) *destWalker {
	w := &destWalker{s: s, dest: newPicker(), attrs: newPicker(), latency: newPicker()}
	w.uri, w.flags, w.priority = w.dest.key("URI"), w.dest.key("FLAGS"), w.dest.key("PRIORITY")
	w.dest.sub("ATTRS", w.attrs).sub("LATENCY", w.latency)
	w.attrFields, w.latFields = w.attrs.fields(dsAttrsFields), w.latency.fields(dsLatencyFields)
	return w
}

// walkSet converts the destinations of a SET{ID, TARGETS}. Kamailio writes
// ID first, and the destinations are converted as the walk reaches them;
// TARGETS before ID is taken whole and converted after the set. The first
// ID and the first TARGETS count.
func (w *destWalker) walkSet(set *binrpc.Cursor, names map[int]string) error {
	var haveID, haveTargets, deferred bool
	var later binrpc.Value // TARGETS, when it came before ID
	err := set.Walk(func(c *binrpc.Cursor) error {
		switch {
		case c.Name() == "ID" && !haveID:
			haveID = true
			v, err := c.Value()
			if err != nil {
				return err
			}
			id, err := memberNumber("ID", v, true)
			if err != nil {
				return err
			}
			w.setID, w.setName = strconv.Itoa(int(id)), names[int(id)]
		case c.Name() == "TARGETS" && !haveTargets:
			haveTargets = true
			if haveID {
				return eachNamed(c, "DEST", w.add)
			}
			var err error
			later, err = c.Value()
			deferred = true
			return err
		}
		return nil
	})
	if err == nil && !haveID {
		err = fmt.Errorf("member %q missing", "ID")
	}
	if err == nil && deferred {
		err = eachNamed(later, "DEST", w.add)
	}
	if err != nil {
		return fmt.Errorf("SET: %w", err)
	}
	return nil
}

func (w *destWalker) add(d *binrpc.Cursor) error {
	s, setID, setName := w.s, w.setID, w.setName
	if err := w.dest.pickAt(d); err != nil {
		return fmt.Errorf("set %s: %w", setID, err)
	}
	uri, err := w.dest.text(w.uri)
	if err != nil {
		return fmt.Errorf("set %s: %w", setID, err)
	}
	flags, err := w.dest.text(w.flags)
	if err != nil {
		return fmt.Errorf("set %s: %w", setID, err)
	}
	s.Add(dsTargetDesc, b2f(dispatcherUp(flags)), setID, uri, setName)
	s.Add(dsFlagsDesc, 1, setID, uri, setName, flags)
	if prio, err := w.dest.number(w.priority); err == nil {
		s.Add(dsPriorityDesc, prio, setID, uri, setName)
	}
	// The reference exporter always exports weight, rweight and latency,
	// with 0 when Kamailio has no ATTRS or LATENCY for the destination.
	for _, group := range []struct {
		p  *picker
		fs pickedFields
	}{{w.attrs, w.attrFields}, {w.latency, w.latFields}} {
		for i, f := range group.fs.fields {
			v, err := group.p.numberOr0(group.fs.slots[i])
			if err != nil {
				return fmt.Errorf("set %s: %s: %w", setID, uri, err)
			}
			s.Add(f.desc, v, setID, uri, setName)
		}
	}
	return nil
}
