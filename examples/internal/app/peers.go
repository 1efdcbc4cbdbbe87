package app

import (
	"context"
	"fmt"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/user"
)

// Peers is how a single-service binary finds the services it calls and
// makes itself found: through Consul with -consul, or else through the
// static lists of its -<service>-url flags. Close stops what it started.
type Peers struct {
	consul   *api.Client
	tag      string // the Consul tag of this shop's instances, if any
	logger   log.Logger
	registry prometheus.Registerer
	stops    []func()
}

// NewPeers returns the Peers of the settings. The breakers of the clients
// it makes export their state on reg.
func NewPeers(s ServiceSettings, logger log.Logger, reg prometheus.Registerer) (*Peers, error) {
	p := &Peers{logger: logger, registry: reg, tag: s.ConsulTag}
	if s.Consul != "" {
		c, err := discovery.NewConsulClient(s.Consul)
		if err != nil {
			return nil, fmt.Errorf("configuration: consul (SHOP_CONSUL_ADDR): %w", err)
		}
		p.consul = c
	}
	return p, nil
}

// Instancer returns where service runs: its passing instances in Consul,
// or else the comma-separated list static, which flag (such as
// "catalog-url (SHOP_CATALOG_URL)") configured.
func (p *Peers) Instancer(service, static, flag string) (sd.Instancer, error) {
	if p.consul != nil {
		opts := []discovery.ConsulOption{discovery.ConsulLogger(p.logger)}
		if p.tag != "" {
			opts = append(opts, discovery.ConsulTag(p.tag))
		}
		i := discovery.NewConsulInstancer(p.consul, service, opts...)
		p.stops = append(p.stops, i.Stop)
		return i, nil
	}
	i, err := discovery.ParseStaticInstancer(static)
	if err != nil {
		return nil, fmt.Errorf("configuration: %s: %w", flag, err)
	}
	return i, nil
}

// clientOptions are the options of every client a binary makes: breaker
// state changes logged and exported.
func (p *Peers) clientOptions() []discovery.ClientOption {
	return []discovery.ClientOption{discovery.ClientLogger(p.logger), discovery.ClientMetrics(p.registry)}
}

// Catalog returns a client of the catalog service (static: the list of
// -catalog-url), presenting token.
func (p *Peers) Catalog(static string, token func() (string, error)) (catalog.Service, error) {
	inst, err := p.Instancer("catalog", static, "catalog-url (SHOP_CATALOG_URL)")
	if err != nil {
		return nil, err
	}
	c, err := catalog.NewHTTPClient(inst, token, p.clientOptions()...)
	if err != nil {
		return nil, err
	}
	p.stops = append(p.stops, func() { c.Close() })
	return c, nil
}

// Inventory returns a client of the inventory service (static: the list
// of -inventory-url), presenting token.
func (p *Peers) Inventory(static string, token func() (string, error)) (inventory.Service, error) {
	inst, err := p.Instancer("inventory", static, "inventory-url (SHOP_INVENTORY_URL)")
	if err != nil {
		return nil, err
	}
	c, err := inventory.NewHTTPClient(inst, token, p.clientOptions()...)
	if err != nil {
		return nil, err
	}
	p.stops = append(p.stops, func() { c.Close() })
	return c, nil
}

// AccountVerifier returns the verifier of a service that is not the user
// service: tokens are verified with tokens, and their accounts checked with
// the user service (found as the others are; -users-url without Consul) as
// the service name, so tokens of gone or disabled accounts stop working
// within user.DefaultAccountCheckTTL.
func (p *Peers) AccountVerifier(s ServiceSettings, tokens *user.Tokens, name string) (shop.Verifier, error) {
	inst, err := p.Instancer("user", s.UsersURL, "users-url (SHOP_USERS_URL)")
	if err != nil {
		return nil, err
	}
	c, err := user.NewHTTPClient(inst, ServiceToken(tokens, name), p.clientOptions()...)
	if err != nil {
		return nil, err
	}
	p.stops = append(p.stops, func() { c.Close() })
	return user.CheckAccounts(tokens, user.ServiceAccountCheck(c)), nil
}

// ServiceToken returns the credential a service presents to the others'
// internal routes: a token of role service, renewed well before it expires.
func ServiceToken(tokens *user.Tokens, name string) func() (string, error) {
	return tokens.TokenSource(shop.Identity{UserID: name, Role: shop.RoleService}, time.Hour)
}

// Register makes the service found at addr (the listening address) through
// Consul, with a check on its /healthz, and returns the function that
// deregisters it; without Consul both do nothing.
func (p *Peers) Register(ctx context.Context, service string, addr string) (deregister func(), err error) {
	if p.consul == nil {
		return func() {}, nil
	}
	reg, err := discovery.RegistrationFor(service, addr)
	if err != nil {
		return nil, err
	}
	if p.tag != "" {
		reg.Tags = []string{p.tag}
	}
	r, err := discovery.NewRegistrar(p.consul, reg)
	if err != nil {
		return nil, err
	}
	if err := r.Register(ctx); err != nil {
		return nil, fmt.Errorf("register %s with Consul: %w", service, err)
	}
	level.Info(p.logger).Log("msg", "registered with Consul", "service", service, "id", r.ID())
	return func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Deregister(dctx); err != nil {
			level.Warn(p.logger).Log("msg", "could not deregister from Consul; its check will remove the instance", "id", r.ID(), "err", err)
			return
		}
		level.Info(p.logger).Log("msg", "deregistered from Consul", "id", r.ID())
	}, nil
}

// Close stops the instancers Peers started.
func (p *Peers) Close() {
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i]()
	}
}
