package discovery

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-kit/kit/sd"

	shophttp "github.com/kitshop/shop/transport/http"
)

// StaticInstancer is an sd.Instancer over a fixed list of instances: what a
// service uses when it is told where its dependencies are (-catalog-url
// 10.0.0.7:5002,10.0.0.8:5002) rather than asking Consul. Make one with
// NewStaticInstancer or ParseStaticInstancer.
//
// It differs from go-kit's sd.FixedInstancer in two ways: the instances are
// checked and written as base URLs when it is made, and every registered
// channel gets its own copy of the list (sd.NewEndpointer sorts the slice it
// is sent, so two endpointers sharing one FixedInstancer race).
type StaticInstancer struct {
	instances []string
}

var _ sd.Instancer = StaticInstancer{}

// NewStaticInstancer returns an instancer over instances, each a base URL
// ("http://10.0.0.7:5002") or host:port (taken as http), as
// shophttp.InstanceURL reads them. Each is kept as a base URL without a
// trailing slash. An empty list, an address that is not an http(s) base URL
// or host:port, or the same instance given twice is an error naming it.
func NewStaticInstancer(instances ...string) (StaticInstancer, error) {
	if len(instances) == 0 {
		return StaticInstancer{}, errors.New("discovery: no instances given")
	}
	list := make([]string, 0, len(instances))
	for _, in := range instances {
		u, err := shophttp.InstanceURL(in)
		if err != nil {
			return StaticInstancer{}, fmt.Errorf("discovery: %w", err)
		}
		s := u.String()
		if slices.Contains(list, s) {
			return StaticInstancer{}, fmt.Errorf("discovery: instance %q is listed twice", in)
		}
		list = append(list, s)
	}
	slices.Sort(list)
	return StaticInstancer{instances: list}, nil
}

// ParseStaticInstancer reads a comma-separated list of instances, as a flag
// or an environment variable gives it ("10.0.0.7:5002, 10.0.0.8:5002" or
// "http://a:5002,https://b.internal/catalog"), into a StaticInstancer.
// Spaces around each item are ignored; an empty item ("a:5002,,b:5002"), an
// empty list, or any error of NewStaticInstancer is an error naming the list.
func ParseStaticInstancer(list string) (StaticInstancer, error) {
	items := strings.Split(list, ",")
	for i, item := range items {
		items[i] = strings.TrimSpace(item)
		if items[i] == "" {
			if strings.TrimSpace(list) == "" {
				return StaticInstancer{}, errors.New("discovery: the list of instances is empty")
			}
			return StaticInstancer{}, fmt.Errorf("discovery: instance list %q has an empty item", list)
		}
	}
	return NewStaticInstancer(items...)
}

// Instances returns the instances as base URLs, sorted.
func (s StaticInstancer) Instances() []string { return slices.Clone(s.instances) }

// Register sends the instances to ch once: they never change.
func (s StaticInstancer) Register(ch chan<- sd.Event) {
	ch <- sd.Event{Instances: slices.Clone(s.instances)}
}

// Deregister does nothing: no event is sent after Register's.
func (s StaticInstancer) Deregister(chan<- sd.Event) {}

// Stop does nothing: a static list has no goroutine.
func (s StaticInstancer) Stop() {}
