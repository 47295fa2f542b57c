package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// runRPC implements the rpc subcommand: call one method and print the
// reply's values as a JSON array. A fault prints "code message" and exits 1.
func runRPC(addr binrpc.Address, timeout time.Duration, method string, rawArgs []string, rawOut string, stdout, stderr io.Writer) int {
	args := make([]any, len(rawArgs))
	for i, a := range rawArgs {
		v, err := parseArg(a)
		if err != nil {
			fmt.Fprintf(stderr, "%s: error: argument %d: %v\n", exporterName, i+1, err)
			return 2
		}
		args[i] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := binrpc.Dial(ctx, addr, binrpc.Options{KeepRaw: rawOut != ""})
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 1
	}
	defer conn.Close()
	vals, err := conn.Call(ctx, method, args...)
	if rawOut != "" && conn.LastReply() != nil {
		if werr := os.WriteFile(rawOut, conn.LastReply(), 0o644); werr != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, werr)
			return 1
		}
	}
	var fault *binrpc.FaultError
	if errors.As(err, &fault) {
		fmt.Fprintf(stderr, "%d %s\n", fault.Code, fault.Message)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 1
	}
	if vals == nil {
		vals = []binrpc.Value{}
	}
	// As kamcmd prints it: "<null string>", not "\u003cnull string\u003e".
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vals); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 1
	}
	return 0
}

// parseArg types a command-line argument as kamcmd does: "s:", "i:" and
// "d:" force a type; otherwise integers are ints, other numbers doubles,
// the rest strings.
func parseArg(a string) (any, error) {
	switch {
	case strings.HasPrefix(a, "s:"):
		return a[2:], nil
	case strings.HasPrefix(a, "i:"):
		i, err := strconv.ParseInt(a[2:], 0, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a 32-bit int", a[2:])
		}
		return i, nil
	case strings.HasPrefix(a, "d:"):
		f, err := strconv.ParseFloat(a[2:], 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not a number", a[2:])
		}
		return f, nil
	}
	if i, err := strconv.ParseInt(a, 10, 32); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(a, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f, nil
	}
	return a, nil
}
