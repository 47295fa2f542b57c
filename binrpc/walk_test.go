package binrpc

import (
	"errors"
	"reflect"
	"testing"
)

// walkValue has arrays and structs inside arrays and structs, empty ones,
// and a member after each.
var walkValue = Struct(
	Named("a", Int(-1)),
	Named("arr", Array(Int(1), Struct(Named("x", String("y"))), Array(), String("after"))),
	Named("st", Struct(Named("d", Double(2.5)), Named("in", Struct()))),
	Named("z", String("end")),
)

// walkInputs returns walkValue encoded, and decoded whole.
func walkInputs(t *testing.T) map[string]Value {
	t.Helper()
	b, err := AppendValue(nil, walkValue)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := DecodeEncoded(b)
	if err != nil || len(enc) != 1 || !enc[0].Encoded() {
		t.Fatalf("DecodeEncoded: %#v, %v", enc, err)
	}
	full, err := DecodePayload(b)
	if err != nil || len(full) != 1 {
		t.Fatalf("DecodePayload: %#v, %v", full, err)
	}
	return map[string]Value{"encoded": enc[0], "decoded": full[0]}
}

func TestWalk(t *testing.T) {
	for name, v := range walkInputs(t) {
		t.Run(name, func(t *testing.T) {
			got, err := walkAll(v.Kind, v.Walk)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize([]Value{got}), normalize([]Value{walkValue})) {
				t.Fatalf("walked\n%#v\nwant\n%#v", got, walkValue)
			}
			// Members not walked are taken whole (or skipped): the walk
			// still reaches every member after them.
			var names []string
			var arr Value
			err = v.Walk(func(c *Cursor) error {
				names = append(names, c.Name())
				if c.Name() == "arr" {
					arr, err = c.Value()
				}
				return err
			})
			if err != nil || !reflect.DeepEqual(names, []string{"a", "arr", "st", "z"}) {
				t.Fatalf("walk without descending: %v, %v", names, err)
			}
			if a, err := walkAll(arr.Kind, arr.Walk); err != nil || !reflect.DeepEqual(normalize([]Value{a}), normalize([]Value{walkValue.Members[1].Value})) {
				t.Fatalf("arr taken whole, then walked: %#v, %v", a, err)
			}
		})
	}
}

func TestWalkMisuse(t *testing.T) {
	v := walkInputs(t)["encoded"]
	// A member already walked cannot be taken whole; a scalar cannot be
	// walked.
	err := v.Walk(func(c *Cursor) error {
		switch c.Kind() {
		case KindStruct, KindArray:
			if err := c.Walk(func(*Cursor) error { return nil }); err != nil {
				return err
			}
			if _, err := c.Value(); err == nil {
				return errors.New("Value after Walk succeeded")
			}
		default:
			if err := c.Walk(func(*Cursor) error { return nil }); err == nil {
				return errors.New("Walk of a " + c.Kind().String() + " succeeded")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An error inside a nested walk ends the whole walk and comes back.
	stop := errors.New("stop")
	calls := 0
	err = v.Walk(func(c *Cursor) error {
		calls++
		if c.Name() == "st" {
			return c.Walk(func(*Cursor) error { return stop })
		}
		return nil
	})
	if err != stop || calls != 3 {
		t.Fatalf("nested error: %v after %d calls", err, calls)
	}
	if err := String("x").Walk(func(*Cursor) error { return nil }); err == nil {
		t.Fatal("Walk of a string succeeded")
	}
}
