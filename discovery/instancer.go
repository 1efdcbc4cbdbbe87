// Package discovery tells a client where the instances of a service are, and
// lets a service announce itself, in go-kit's terms: every source of
// instances is a go-kit sd.Instancer, so sd.NewEndpointer and the balancers
// of sd/lb work on it unchanged.
//
// Two sources ship:
//
//   - StaticInstancer, a fixed list given on the command line
//     (ParseStaticInstancer("10.0.0.7:5002,10.0.0.8:5002")). It is the
//     default, and what tests use.
//   - ConsulInstancer, the passing instances of a service in Consul, followed
//     with blocking queries. While Consul is unreachable it retries with
//     exponential backoff and jitter and keeps the last instances it knew.
//
// Registrar registers a service instance with its local Consul agent, with
// an HTTP check on the instance's own /healthz, and deregisters it on
// shutdown.
//
// Every instance is reported as a base URL ("http://10.0.0.7:5002"), the
// form each domain's MakeClientEndpoints takes.
package discovery

import (
	"slices"
	"sync"

	"github.com/go-kit/kit/sd"
)

// instanceCache holds an instancer's current state and the channels
// registered for it, as go-kit's own instancers do (their cache lives in an
// internal package of go-kit's, so it cannot be reused).
//
// Events are sent while the lock is held, so that once deregister returns no
// event reaches the channel again: sd.NewEndpointer's Close deregisters and
// then closes its channel. A receiver must therefore keep reading until
// deregister has returned, which sd.NewEndpointer does.
type instanceCache struct {
	mu    sync.Mutex
	state sd.Event
	chans map[chan<- sd.Event]struct{}
}

func newInstanceCache(initial sd.Event) *instanceCache {
	return &instanceCache{state: copyEvent(initial), chans: map[chan<- sd.Event]struct{}{}}
}

// current returns a copy of the state.
func (c *instanceCache) current() sd.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return copyEvent(c.state)
}

// update makes ev the state and sends it to every registered channel, unless
// it equals the state already held. A send gives up when stop is closed, so
// a stopped instancer never hangs on a receiver that went away.
func (c *instanceCache) update(ev sd.Event, stop <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sameEvent(c.state, ev) {
		return
	}
	c.state = copyEvent(ev)
	for ch := range c.chans {
		select {
		case ch <- copyEvent(ev):
		case <-stop:
			return
		}
	}
}

// register sends the current state to ch and adds ch to the receivers.
func (c *instanceCache) register(ch chan<- sd.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chans[ch] = struct{}{}
	ch <- copyEvent(c.state)
}

// deregister removes ch; no event reaches it once this returns.
func (c *instanceCache) deregister(ch chan<- sd.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.chans, ch)
}

// copyEvent gives each receiver its own slice: sd.NewEndpointer sorts the
// instances it is sent in place.
func copyEvent(ev sd.Event) sd.Event {
	ev.Instances = slices.Clone(ev.Instances)
	return ev
}

// sameEvent reports whether a and b hold the same instances (both sorted)
// and agree on whether discovery is failing.
func sameEvent(a, b sd.Event) bool {
	return slices.Equal(a.Instances, b.Instances) && (a.Err == nil) == (b.Err == nil)
}
