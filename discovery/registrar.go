package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// Defaults of a Registration's health check.
const (
	RegistrationDefaultCheckPath               = "/healthz"
	RegistrationDefaultCheckInterval           = 10 * time.Second
	RegistrationDefaultCheckTimeout            = 5 * time.Second
	RegistrationDefaultDeregisterCriticalAfter = time.Minute
)

// Registration describes one instance of a service as Consul should know it:
// its name, where others reach it, and the HTTP check Consul runs on it.
// RegistrationFor fills the usual fields from a listen address; the zero
// value of every optional field means its default.
type Registration struct {
	// Service is the name instancers ask for ("catalog").
	Service string
	// ID identifies this instance among the services of its Consul agent.
	// The default is Service, Address and Port joined by "-"
	// ("catalog-10.0.0.7-5002"): unique, since two processes cannot listen
	// on one address, and the same across restarts, so a restarted instance
	// replaces its old registration instead of adding a second one. Only
	// letters, digits, '.', '_' and '-' are allowed.
	ID string
	// Address is the host or IP other services reach this instance on:
	// never a wildcard such as 0.0.0.0 or ::.
	Address string
	// Port is the port the instance serves HTTP on.
	Port int
	// Tags are Consul tags, which instancers may filter on (ConsulTag).
	Tags []string
	// Meta is Consul service metadata, free-form.
	Meta map[string]string

	// CheckPath is the path of the instance's own health endpoint, which
	// Consul GETs on Address and Port over http; the default is
	// RegistrationDefaultCheckPath, "/healthz". Any 2xx answer passes, 429
	// warns, anything else (or no answer) fails; only passing instances are
	// discovered.
	CheckPath string
	// CheckInterval is how often Consul runs the check: at least a second
	// (Consul's minimum); the default is RegistrationDefaultCheckInterval.
	CheckInterval time.Duration
	// CheckTimeout is how long one check may take; the default is the
	// smaller of RegistrationDefaultCheckTimeout and CheckInterval.
	CheckTimeout time.Duration
	// DeregisterCriticalAfter is how long the check may fail before Consul
	// removes the registration altogether, for an instance that died
	// without deregistering: at least a minute (Consul's minimum; its
	// reaper runs every 30 seconds, so removal may come that much later).
	// The default is RegistrationDefaultDeregisterCriticalAfter.
	DeregisterCriticalAfter time.Duration
}

// RegistrationFor returns the Registration of service listening on hostport
// ("10.0.0.7:5002", "[fd00::7]:5002"), with every optional field at its
// default. A wildcard host (":5002", "0.0.0.0:5002") is an error: Consul
// would tell other services to call an address that is not one; give the
// address they can reach instead.
func RegistrationFor(service, hostport string) (Registration, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return Registration{}, fmt.Errorf("discovery: address %q of %s is not host:port", hostport, service)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return Registration{}, fmt.Errorf("discovery: address %q of %s has no numeric port", hostport, service)
	}
	r := Registration{Service: service, Address: host, Port: port}
	if _, err := r.agentRegistration(); err != nil {
		return Registration{}, err
	}
	return r, nil
}

// agentRegistration checks r and turns it into what the Consul API takes,
// with the defaults filled in.
func (r Registration) agentRegistration() (*api.AgentServiceRegistration, error) {
	switch {
	case strings.TrimSpace(r.Service) == "":
		return nil, errors.New("discovery: registration without a service name")
	case r.Address == "":
		return nil, fmt.Errorf("discovery: registration of %s without an address", r.Service)
	case r.Port < 1 || r.Port > 65535:
		return nil, fmt.Errorf("discovery: registration of %s: port %d is not 1 to 65535", r.Service, r.Port)
	}
	if ip := net.ParseIP(r.Address); ip != nil && ip.IsUnspecified() {
		return nil, fmt.Errorf("discovery: registration of %s: %s is a wildcard, not an address other services can reach; give the host or IP they should call", r.Service, r.Address)
	}
	id := r.ID
	if id == "" {
		id = safeID(r.Service + "-" + r.Address + "-" + strconv.Itoa(r.Port))
	} else if safeID(id) != id {
		return nil, fmt.Errorf("discovery: registration ID %q: only letters, digits, '.', '_' and '-' are allowed", id)
	}
	path := r.CheckPath
	if path == "" {
		path = RegistrationDefaultCheckPath
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("discovery: registration of %s: check path %q does not start with /", r.Service, path)
	}
	interval := r.CheckInterval
	if interval == 0 {
		interval = RegistrationDefaultCheckInterval
	}
	if interval < time.Second {
		return nil, fmt.Errorf("discovery: registration of %s: check interval %v is under Consul's minimum of 1s", r.Service, interval)
	}
	timeout := r.CheckTimeout
	if timeout == 0 {
		timeout = min(RegistrationDefaultCheckTimeout, interval)
	}
	if timeout < 0 {
		return nil, fmt.Errorf("discovery: registration of %s: negative check timeout %v", r.Service, timeout)
	}
	reap := r.DeregisterCriticalAfter
	if reap == 0 {
		reap = RegistrationDefaultDeregisterCriticalAfter
	}
	if reap < time.Minute {
		return nil, fmt.Errorf("discovery: registration of %s: deregister-critical-after %v is under Consul's minimum of 1m", r.Service, reap)
	}
	check := "http://" + net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) + path
	return &api.AgentServiceRegistration{
		ID:      id,
		Name:    r.Service,
		Address: r.Address,
		Port:    r.Port,
		Tags:    r.Tags,
		Meta:    r.Meta,
		Check: &api.AgentServiceCheck{
			Name:                           "GET " + check,
			HTTP:                           check,
			Method:                         http.MethodGet,
			Interval:                       interval.String(),
			Timeout:                        timeout.String(),
			DeregisterCriticalServiceAfter: reap.String(),
			// Register is called once the instance answers its check, so
			// it starts passing: Consul would otherwise keep it out of
			// discovery until its first check ran, up to an interval later.
			Status: api.HealthPassing,
		},
	}, nil
}

// safeID replaces every character of s outside letters, digits, '.', '_'
// and '-' with '-'.
func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, s)
}

// Registrar registers one service instance with its local Consul agent and
// deregisters it.
//
// A binary registers once it serves (its /healthz answers), and on a
// graceful shutdown deregisters first, while it still answers: watchers
// following Consul drop the instance within moments, and only then does the
// server stop accepting requests and finish the ones in flight
// (http.Server.Shutdown). An instance that dies without deregistering fails
// its check and stops being discovered within a check interval, and Consul
// removes it after DeregisterCriticalAfter.
//
// Register and Deregister take a context and return an error, unlike
// go-kit's sd.Registrar, whose Consul implementation only logs failures: a
// binary should know that it is not registered.
type Registrar struct {
	client *api.Client
	reg    *api.AgentServiceRegistration
}

// NewRegistrar returns a registrar of r with the agent client talks to
// (NewConsulClient). It checks r (see Registration) but does not contact
// the agent. A nil client panics.
func NewRegistrar(client *api.Client, r Registration) (*Registrar, error) {
	if client == nil {
		panic("discovery: NewRegistrar: nil Consul client")
	}
	reg, err := r.agentRegistration()
	if err != nil {
		return nil, err
	}
	return &Registrar{client: client, reg: reg}, nil
}

// ID returns the instance's ID in Consul.
func (r *Registrar) ID() string { return r.reg.ID }

// CheckURL returns the URL Consul's health check GETs.
func (r *Registrar) CheckURL() string { return r.reg.Check.HTTP }

// Register registers the instance and its check, replacing any earlier
// registration under the same ID (and its checks). The instance starts
// passing, so call it once the instance answers its check.
func (r *Registrar) Register(ctx context.Context) error {
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.client.Agent().ServiceRegisterOpts(r.reg, opts); err != nil {
		return fmt.Errorf("discovery: registering %s as %s with Consul: %w", r.reg.Name, r.reg.ID, err)
	}
	return nil
}

// Deregister removes the instance and its check from the agent. An instance
// the agent no longer knows (deregistered already, or removed after failing
// its check) is not an error.
func (r *Registrar) Deregister(ctx context.Context) error {
	err := r.client.Agent().ServiceDeregisterOpts(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
	var status api.StatusError
	if errors.As(err, &status) && status.Code == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("discovery: deregistering %s from Consul: %w", r.reg.ID, err)
	}
	return nil
}
