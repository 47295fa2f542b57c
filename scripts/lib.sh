# Shell helpers shared by the scripts (source it; it sets no options).

# free_port prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: waits up to 5 s for URL to answer with success.
wait_http() {
  for _ in $(seq 1 50); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  return 0 # the caller's next request reports the failure
}
