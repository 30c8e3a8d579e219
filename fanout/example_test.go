package fanout_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/fanout"
)

// A hub served over WebSocket: the handler checks the selection before the
// upgrade, then hands the connection to the hub.
func ExampleHub_Serve() {
	hub := fanout.NewHub(fanout.Options{})
	up := websocket.Upgrader{}
	http.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		sel, err := fanout.ParseSelection(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader has answered
		}
		hub.Serve(r.Context(), conn, sel) // returns when the client is gone
	})
	// A source feeds the hub; this one is fed in process.
	var src fanout.MemorySource
	go hub.Run(context.Background(), &src)
	src.SetStatus(true, "")
	src.Publish("greenhouse-1", time.Date(2026, 11, 26, 23, 1, 13, 123e6, time.UTC), []byte(`{"v":1,"device":"greenhouse-1","sensor":"bme280","metric":"temperature","value":21.37,"unit":"Cel","ts":"2026-11-26T23:01:13.123Z","seq":42}`))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// The hub's metrics, under the namespace the caller chooses.
func ExampleHub_Collector() {
	hub := fanout.NewHub(fanout.Options{})
	reg := prometheus.NewRegistry()
	if err := reg.Register(hub.Collector("tributary_edge")); err != nil {
		log.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		fmt.Println(mf.GetName())
	}
	// Output:
	// tributary_edge_events_received_total
	// tributary_edge_readings_delivered_total
	// tributary_edge_readings_received_total
	// tributary_edge_websocket_bad_messages_total
	// tributary_edge_websocket_clients
	// tributary_edge_websocket_frames_sent_total
	// tributary_edge_websocket_slow_disconnects_total
}

func ExampleDecodeControl() {
	for _, msg := range []string{
		`{"type":"subscribe","devices":["shed","greenhouse-1","shed"]}`,
		`{"type":"subscribe","all":true}`,
		`{"type":"subscribe","devices":["no spaces"]}`,
	} {
		sel, err := fanout.DecodeControl([]byte(msg))
		fmt.Printf("%+v %v\n", sel, err)
	}
	// Output:
	// {All:false Devices:[greenhouse-1 shed]} <nil>
	// {All:true Devices:[]} <nil>
	// {All:false Devices:[]} bad control message: fanout: invalid device id "no spaces": use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit
}
