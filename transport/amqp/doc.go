// Package amqp is the RabbitMQ event transport, for a shop whose services
// run as separate processes: a Publisher (a shop.BatchPublisher, for the
// outbox relay) and a Subscriber (a shop.Subscriber and shop.DeadLetters,
// one per consuming service), built on github.com/rabbitmq/amqp091-go.
//
// On the wire: events go to one durable topic exchange (default
// "kitshop.events") with the event type as routing key ("order.paid").
// Each message is persistent, its content type is
// "application/cloudevents+json", its body the JSON of the shop.Event (its
// field names are the CloudEvents attribute names), and its message ID,
// type and timestamp are the event's ID, type and time. A publish counts
// only once the broker confirmed it.
//
// Each consuming service has one durable queue, "<prefix>.<service>"
// (default prefix "kitshop"), bound to exactly the types it subscribed,
// with a dead-letter exchange ("<exchange>.dlx") and queue
// ("<prefix>.<service>.dead") beside it. Several instances of one service
// share its queue and split its messages between them.
//
// Delivery is at least once: a lost connection or a stopped consumer
// brings a message again, and a publish whose confirm was lost is
// published again by the outbox. Consumers must drop repeated event IDs;
// package inbox does that, and also bounds the attempts at an event that
// keeps failing (see Subscriber).
//
// Both sides connect lazily and reconnect with backoff by themselves after
// the broker or the connection goes away.
package amqp
