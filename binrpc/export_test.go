package binrpc

// SetAbstractUnix chooses how unix datagram reply sockets are bound (in the
// abstract namespace, or as a file) and returns a function restoring the
// default.
func SetAbstractUnix(on bool) (restore func()) {
	old := abstractUnix
	abstractUnix = on
	return func() { abstractUnix = old }
}
