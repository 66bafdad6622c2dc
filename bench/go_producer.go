// The peer people pick instead: Go's net/http, the engine of traefik/whoami and podinfo,
// answering as our producer does: /number for GET and HEAD, 405 for other methods, 404 for
// other paths. `make bench` builds it with Debian's golang-go, and so does tests/conformance.rs.
package main

import (
	"fmt"
	"math/rand"
	"net/http"
	"os"
)

func main() {
	host, _ := os.Hostname()
	http.HandleFunc("/number", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Served-By", host)
		fmt.Fprintf(w, "{\"number\": %d}\n", rand.Intn(180)+1)
	})
	// For the fairness rows of make bench: a fresh client's probe beside hostile ones.
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{\"status\":\"ok\"}\n")
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe("127.0.0.1:"+os.Args[1], nil))
}
