package binrpc

import "fmt"

// Cursor is the member a Walk is at. Its methods are valid only during the
// call of the walk's function that was given it.
type Cursor struct {
	d      *decoder // nil when walking members already decoded
	name   string
	named  bool
	val    Value // a scalar, or a container: only its kind while open
	open   bool  // a container on the wire that nobody has read yet
	walked bool  // a container that Walk has read
	depth  int   // the open container's level
}

// Name returns the member's AVP name ("" in an array).
func (c *Cursor) Name() string { return c.name }

// Named reports whether the member has an AVP name.
func (c *Cursor) Named() bool { return c.named }

// Kind returns the member's kind.
func (c *Cursor) Kind() Kind { return c.val.Kind }

// Value returns the member's value: a struct or array comes encoded
// (Encoded), read to its end marker. It fails once Walk has read it.
func (c *Cursor) Value() (Value, error) {
	switch {
	case c.walked:
		return Value{}, fmt.Errorf("binrpc: %s %q already walked", c.val.Kind, c.name)
	case !c.open:
		return c.val, nil
	}
	c.open = false
	from := c.d.off
	if err := c.d.skip(c.val.Kind, c.depth); err != nil {
		return Value{}, err
	}
	c.val.Str = c.d.str(from, c.d.off)
	return c.val, nil
}

// Member returns the member, its value as Value gives it.
func (c *Cursor) Member() (Member, error) {
	v, err := c.Value()
	return Member{Name: c.name, Named: c.named, Value: v}, err
}

// Walk calls fn with each member of the struct or array the cursor is at,
// in the same pass over the reply as the walk that gave it the cursor.
func (c *Cursor) Walk(fn func(*Cursor) error) error {
	if !c.open {
		v, err := c.Value()
		if err != nil {
			return err
		}
		c.walked = v.Kind == KindStruct || v.Kind == KindArray
		return v.Walk(fn)
	}
	c.open = false
	at := *c
	err := c.members(c.val.Kind, c.depth, fn)
	*c = at
	c.walked = true
	return err
}

// Walk calls fn with each member of the struct or array v, in order, and
// stops at the first error fn returns. The members of an encoded container
// are read in one pass, without building any member slice: fn reads a
// member's value, or walks a member that is itself a struct or array with
// the Cursor's Walk, while the pass is at it.
func (v Value) Walk(fn func(*Cursor) error) error {
	if v.Kind != KindStruct && v.Kind != KindArray {
		return fmt.Errorf("binrpc: walk: want a struct or array, got %s", v.Kind)
	}
	if !v.Encoded() {
		c := &Cursor{}
		for _, m := range v.Members {
			c.name, c.named, c.val, c.walked = m.Name, m.Named, m.Value, false
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	c := &Cursor{d: &decoder{s: v.Str}}
	if err := c.members(v.Kind, 1, fn); err != nil {
		return err
	}
	if c.d.off != len(c.d.s) {
		return malformed("%d bytes after the %s", len(c.d.s)-c.d.off, v.Kind)
	}
	return nil
}

// members walks the members of a container of kind k at level depth, up
// to its end marker.
func (c *Cursor) members(k Kind, depth int, fn func(*Cursor) error) error {
	d := c.d
	for {
		h, end, err := d.head(k, depth)
		if err != nil || end {
			return err
		}
		c.name, c.named, c.walked = h.name, h.named, false
		if h.container() {
			c.val, c.open, c.depth = Value{Kind: h.kind}, true, depth+1
		} else {
			c.val = d.scalar(h)
		}
		err = fn(c)
		if c.open && err == nil {
			err = d.skip(c.val.Kind, c.depth)
		}
		c.open = false
		if err != nil {
			return err
		}
	}
}
