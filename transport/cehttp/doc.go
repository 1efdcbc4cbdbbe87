// Package cehttp carries events between services over HTTP as CloudEvents,
// for a shop split into several processes without a message broker: the
// service that owns a change pushes each event to the services that asked
// for its type, and they answer only once their handlers took it.
//
// Events travel in the CloudEvents HTTP binding's structured mode: a POST
// to Path with Content-Type application/cloudevents+json and the event as
// its JSON body (shop.Event's JSON tags are the CloudEvents attribute
// names). A Receiver also takes binary mode (the attributes in ce-*
// headers, the body the event's JSON data), so any CloudEvents sender can
// reach it.
//
// The two halves:
//
//   - Receiver is the consuming service's side: a shop.Subscriber whose
//     handlers run when an event arrives, and the http.Handler of the
//     internal route Path, which only callers with a service (or admin)
//     token may use. It answers 204 once every handler of the event's type
//     succeeded, and 5xx when one failed, so the sender tries again.
//   - Publisher is the producing service's side, the shop.Publisher (and
//     shop.BatchPublisher) an outbox relay hands its events to: it pushes
//     each event to every subscribed service that wants its type, through
//     the client chain of discovery.NewEndpoint (balancing over the
//     instances, breakers, timeouts, retries), and succeeds only once all of
//     them acknowledged it.
//
// Delivery is at least once: a push that failed for one target is pushed to
// every target again, so consumers must treat a repeated event ID as already
// handled (as the shop's consumers do).
//
// The package writes and reads the structured-mode JSON itself, so programs
// that import it do not pull in the CloudEvents SDK; its tests use the SDK
// to check that both halves speak the binding as the SDK does.
package cehttp
