package amqp

import (
	"fmt"
	"slices"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// WithConsumerQueues makes a Publisher declare, on every connection, the
// queues of the consuming services it publishes for, each bound to the
// event types it consumes (service name -> types), exactly as those
// services' Subscribers declare them. A topic exchange drops what no queue
// is bound to, so without this an event published before its consumer
// first started would be confirmed and lost; with it, the event waits in
// the consumer's queue. Declaring is idempotent, so publisher and
// subscriber may both do it in any order.
func WithConsumerQueues(consumers map[string][]string) Option {
	c := make(map[string][]string, len(consumers))
	for service, types := range consumers {
		if service == "" {
			panic("amqp.WithConsumerQueues: a consumer needs a service name")
		}
		c[service] = slices.Clone(types)
	}
	return func(cfg *config) { cfg.consumers = c }
}

// queueNames returns the queue and the dead-letter queue of service.
func (c config) queueNames(service string) (queue, dead string) {
	q := c.queuePrefix + "." + service
	return q, q + ".dead"
}

// declareConsumer declares the exchanges, the consumer's queue with its
// dead-letter exchange and queue, and the queue's bindings to types.
func declareConsumer(ch *amqp091.Channel, cfg config, queue, deadQueue string, types []string) error {
	if err := declareExchange(ch, cfg.exchange); err != nil {
		return err
	}
	dlx := cfg.deadLetterExchange()
	if err := ch.ExchangeDeclare(dlx, amqp091.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", dlx, err)
	}
	if _, err := ch.QueueDeclare(deadQueue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %s: %w", deadQueue, err)
	}
	if err := ch.QueueBind(deadQueue, queue, dlx, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", deadQueue, err)
	}
	args := amqp091.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": queue}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s (an existing queue of that name must have the same arguments): %w", queue, err)
	}
	for _, t := range types {
		if err := ch.QueueBind(queue, t, cfg.exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s: %w", queue, t, err)
		}
	}
	return nil
}

// declareConsumers declares the queues of WithConsumerQueues.
func declareConsumers(ch *amqp091.Channel, cfg config) error {
	for service, types := range cfg.consumers {
		q, dead := cfg.queueNames(service)
		if err := declareConsumer(ch, cfg, q, dead, types); err != nil {
			return err
		}
	}
	return nil
}
