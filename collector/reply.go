package collector

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

// Helpers the collectors share to read replies.

// callStruct calls method and returns its reply's single struct; a fault
// is returned as it is.
func callStruct(ctx context.Context, c Caller, method string, args ...any) (binrpc.Value, error) {
	vals, err := c.Call(ctx, method, args...)
	if err != nil {
		return binrpc.Value{}, err
	}
	return onlyStruct(method, vals)
}

// callEncodedStruct is callStruct with the struct left encoded, to be
// walked with Walk or Each (CallEncoded).
func callEncodedStruct(ctx context.Context, c Caller, method string, args ...any) (binrpc.Value, error) {
	vals, err := c.CallEncoded(ctx, method, args...)
	if err != nil {
		return binrpc.Value{}, err
	}
	return onlyStruct(method, vals)
}

// onlyStruct returns the single struct of a reply.
func onlyStruct(method string, vals []binrpc.Value) (binrpc.Value, error) {
	if len(vals) != 1 || vals[0].Kind != binrpc.KindStruct {
		return binrpc.Value{}, fmt.Errorf("%s: want one struct, got %s", method, shape(vals))
	}
	return vals[0], nil
}

func shape(vals []binrpc.Value) string {
	kinds := make([]string, 0, min(len(vals), 4))
	for i, v := range vals {
		if i == 4 {
			kinds = append(kinds, "…")
			break
		}
		kinds = append(kinds, v.Kind.String())
	}
	return fmt.Sprintf("%d values %v", len(vals), kinds)
}

// number returns the numeric member key of a struct.
func number(st binrpc.Value, key string) (float64, error) {
	v, ok := st.Get(key)
	return memberNumber(key, v, ok)
}

// text returns the scalar member key of a struct as text.
func text(st binrpc.Value, key string) (string, error) {
	v, ok := st.Get(key)
	return memberText(key, v, ok)
}

// memberNumber is the member key, v when ok, as a number.
func memberNumber(key string, v binrpc.Value, ok bool) (float64, error) {
	if !ok {
		return 0, fmt.Errorf("member %q missing", key)
	}
	f, err := v.Float()
	if err != nil {
		return 0, fmt.Errorf("member %q: %w", key, err)
	}
	return f, nil
}

// memberText is the member key, v when ok, as text.
func memberText(key string, v binrpc.Value, ok bool) (string, error) {
	if !ok {
		return "", fmt.Errorf("member %q missing", key)
	}
	s, err := v.Text()
	if err != nil {
		return "", fmt.Errorf("member %q: %w", key, err)
	}
	return s, nil
}

// field maps a struct member to a family.
type field struct {
	key  string
	desc *page.Desc
}

// addFields adds one sample per field present in st. Missing members are
// skipped (older Kamailio versions lack some); a present member that is not
// a number is an error.
func addFields(s *Sink, st binrpc.Value, fields []field, labelValues ...string) error {
	for _, f := range fields {
		v, ok := st.Get(f.key)
		if !ok {
			continue
		}
		n, err := asSample(v, f.desc)
		if err != nil {
			return fmt.Errorf("member %q: %w", f.key, err)
		}
		s.Add(f.desc, n, labelValues...)
	}
	return nil
}

// addPicked is addFields for the members p picked: the fields fs (from
// picker.fields).
func addPicked(s *Sink, p *picker, fs pickedFields, labelValues ...string) error {
	for i, f := range fs.fields {
		k := fs.slots[i]
		if !p.ok[k] {
			continue
		}
		n, err := asSample(p.vals[k], f.desc)
		if err != nil {
			return fmt.Errorf("member %q: %w", f.key, err)
		}
		s.Add(f.desc, n, labelValues...)
	}
	return nil
}

// asSample is v as a sample of d. ctl sends a C int as a 32-bit BINRPC
// int: a counter held in an unsigned int (tm.stats') arrives negative once
// it passes 2^31, and is read back as unsigned.
func asSample(v binrpc.Value, d *page.Desc) (float64, error) {
	n, err := v.Float()
	if err == nil && n < 0 && d.Type() == prometheus.CounterValue && v.Kind == binrpc.KindInt && n >= math.MinInt32 {
		n += 1 << 32
	}
	return n, err
}

// isCode reports whether s is a reply code or class: three of [0-9x].
func isCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c == 'x') {
			return false
		}
	}
	return true
}

// addCodes adds the members of st named like reply codes to d.
func addCodes(s *Sink, method string, st binrpc.Value, d *page.Desc) error {
	for _, m := range st.Members {
		if !m.Named || !isCode(m.Name) {
			continue
		}
		v, err := asSample(m.Value, d)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", method, m.Name, err)
		}
		s.Add(d, v, m.Name)
	}
	return nil
}

// picker takes the members it is asked for, by name, from a struct in one
// pass over its bytes (Value.Walk), without decoding it into a member
// slice; a member with a picker of its own (sub) is picked in the same
// pass. The first member of each name counts. Reused from struct to
// struct, it allocates nothing per struct.
//
// A collector asks for each member by its Kamailio name (key, fields) and
// reads it through the slot it got back, so that no read depends on the
// position of a name in a list written elsewhere.
type picker struct {
	keys []string
	vals []binrpc.Value
	ok   []bool
	subs []*picker
}

// slot is a member a picker takes, as picker.key returned it.
type slot int

// pickedFields are the members of a field table that a picker takes, and
// their slots (picker.fields).
type pickedFields struct {
	fields []field
	slots  []slot
}

// newPicker returns a picker taking nothing yet, with room for the few
// members a collector asks for.
func newPicker() *picker {
	const room = 8
	return &picker{keys: make([]string, 0, room), vals: make([]binrpc.Value, 0, room),
		ok: make([]bool, 0, room), subs: make([]*picker, 0, room)}
}

// key makes p take the member named name, and returns its slot.
func (p *picker) key(name string) slot {
	if i := slices.Index(p.keys, name); i >= 0 {
		return slot(i)
	}
	p.keys = append(p.keys, name)
	p.vals = append(p.vals, binrpc.Value{})
	p.ok = append(p.ok, false)
	p.subs = append(p.subs, nil)
	return slot(len(p.keys) - 1)
}

// fields makes p take the members of the field table fs.
func (p *picker) fields(fs []field) pickedFields {
	out := pickedFields{fields: fs, slots: make([]slot, len(fs))}
	for i, f := range fs {
		out.slots[i] = p.key(f.key)
	}
	return out
}

// sub picks the struct member name with q, in the same pass.
func (p *picker) sub(name string, q *picker) *picker {
	p.subs[p.key(name)] = q
	return p
}

// pick reads st's members.
func (p *picker) pick(st binrpc.Value) error {
	if st.Kind != binrpc.KindStruct {
		return fmt.Errorf("want a struct, got %s", st.Kind)
	}
	p.reset()
	return st.Walk(p.member)
}

// pickAt reads the members of the struct c is at.
func (p *picker) pickAt(c *binrpc.Cursor) error {
	if c.Kind() != binrpc.KindStruct {
		return fmt.Errorf("want a struct, got %s", c.Kind())
	}
	p.reset()
	return c.Walk(p.member)
}

func (p *picker) reset() {
	clear(p.ok)
	for _, q := range p.subs {
		if q != nil {
			q.reset()
		}
	}
}

func (p *picker) member(c *binrpc.Cursor) error {
	if !c.Named() {
		return nil
	}
	for i, k := range p.keys {
		if p.ok[i] || c.Name() != k {
			continue
		}
		p.ok[i] = true
		if q := p.subs[i]; q != nil {
			if err := q.pickAt(c); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			return nil
		}
		var err error
		p.vals[i], err = c.Value()
		return err
	}
	return nil
}

// text returns member k as text.
func (p *picker) text(k slot) (string, error) { return memberText(p.keys[k], p.vals[k], p.ok[k]) }

// number returns member k as a number.
func (p *picker) number(k slot) (float64, error) { return memberNumber(p.keys[k], p.vals[k], p.ok[k]) }

// value returns member k as it came, and whether the struct had it.
func (p *picker) value(k slot) (binrpc.Value, bool) { return p.vals[k], p.ok[k] }

// numberOr0 returns member k as a number, 0 when the struct lacks it.
func (p *picker) numberOr0(k slot) (float64, error) {
	if !p.ok[k] {
		return 0, nil
	}
	return p.number(k)
}

// eachStruct calls fn with each top-level value of a reply, which must be
// structs (one per process, table…), left encoded by CallEncoded.
func eachStruct(method string, vals []binrpc.Value, fn func(binrpc.Value) error) error {
	for _, v := range vals {
		if v.Kind != binrpc.KindStruct {
			return fmt.Errorf("%s: want structs, got %s", method, shape(vals))
		}
		if err := fn(v); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
	}
	return nil
}

// b2f is a boolean as a sample: 1 or 0.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
