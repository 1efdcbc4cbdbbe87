package app

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/transport/amqp"
	"github.com/kitshop/shop/transport/cehttp"
)

// EventSettings say how a binary's events travel between processes: through
// RabbitMQ when AMQP is set, else as CloudEvents pushed over HTTP to the
// internal events route of each consuming service.
type EventSettings struct {
	// AMQP is the broker's URL (amqp://user:password@host:5672/).
	AMQP string
	// AMQPPrefix names the exchange ("<prefix>.events") and the queues
	// ("<prefix>.<service>"), so several shops can share one broker.
	AMQPPrefix string
}

// Register defines -amqp (SHOP_AMQP_URL) and -amqp-prefix on fs.
func (e *EventSettings) Register(fs *flag.FlagSet) {
	fs.StringVar(&e.AMQP, "amqp", "", "RabbitMQ URL (amqp://user:password@host:5672/) for events between services; unset: CloudEvents over HTTP (SHOP_AMQP_URL)")
	fs.StringVar(&e.AMQP, "amqp-url", "", "the same as -amqp; its environment variable is SHOP_AMQP_URL")
	fs.StringVar(&e.AMQPPrefix, "amqp-prefix", amqp.DefaultQueuePrefix, "prefix of the RabbitMQ exchange and queue names (SHOP_AMQP_PREFIX)")
}

// Check validates the settings, naming the one at fault.
func (e *EventSettings) Check() error {
	if e.AMQP != "" && !strings.HasPrefix(e.AMQP, "amqp://") && !strings.HasPrefix(e.AMQP, "amqps://") {
		return fmt.Errorf("configuration: amqp (SHOP_AMQP_URL) must be an amqp:// or amqps:// URL, got %q", e.AMQP)
	}
	if e.AMQPPrefix == "" {
		return fmt.Errorf("configuration: amqp-prefix (SHOP_AMQP_PREFIX) must not be empty")
	}
	return nil
}

// AMQPOptions are the options of the binaries' publishers and subscribers.
func (e *EventSettings) AMQPOptions(logger log.Logger) []amqp.Option {
	return []amqp.Option{amqp.WithExchange(e.AMQPPrefix + ".events"), amqp.WithQueuePrefix(e.AMQPPrefix), amqp.WithLogger(logger)}
}

// Consumers is which bundled service consumes which event types: the
// subscriptions of the HTTP push, and the queues a RabbitMQ publisher
// declares so nothing is published before its consumer's queue exists.
func Consumers() map[string][]string {
	return map[string][]string{inventory.Consumer: inventory.ConsumedEvents()}
}

// published is which event types each service publishes.
var published = map[string][]string{
	"user":      {shop.EventUserRegistered},
	"catalog":   {shop.EventProductCreated, shop.EventProductUpdated, shop.EventProductDeleted},
	"inventory": {shop.EventStockChanged},
	"order": {shop.EventOrderCreated, shop.EventOrderPaid, shop.EventOrderCancelled,
		shop.EventOrderExpired, shop.EventOrderRefunded},
}

// EventPublisher returns the publisher of service's outbox. Through
// RabbitMQ it publishes to the exchange (declaring the consumers' queues).
// Over HTTP it pushes each event to the services that consume its type,
// found through peers; static names, for each such service, its instances
// without Consul and the flag that sets them (for example "inventory" ->
// {"127.0.0.1:5004", "inventory-url (SHOP_INVENTORY_URL)"}).
func EventPublisher(service string, e EventSettings, peers *Peers, static map[string][2]string, token func() (string, error), logger log.Logger) (shop.Publisher, io.Closer, error) {
	consumers := Consumers()
	if e.AMQP != "" {
		p, err := amqp.NewPublisher(e.AMQP, append(e.AMQPOptions(logger), amqp.WithConsumerQueues(consumers))...)
		if err != nil {
			return nil, nil, fmt.Errorf("configuration: amqp (SHOP_AMQP_URL): %w", err)
		}
		return p, p, nil
	}
	var subs []cehttp.Subscription
	for consumer, types := range consumers {
		var wanted []string
		for _, t := range types {
			if slices.Contains(published[service], t) {
				wanted = append(wanted, t)
			}
		}
		if len(wanted) == 0 {
			continue
		}
		where, ok := static[consumer]
		if !ok {
			return nil, nil, fmt.Errorf("%s publishes events %s consumes, but has no address for it", service, consumer)
		}
		inst, err := peers.Instancer(consumer, where[0], where[1])
		if err != nil {
			return nil, nil, err
		}
		subs = append(subs, cehttp.Subscription{Service: consumer, Instancer: inst, Types: wanted})
	}
	p, err := cehttp.NewPublisher(token, subs, cehttp.WithClientOptions(peers.clientOptions()...))
	if err != nil {
		return nil, nil, err
	}
	return p, p, nil
}
