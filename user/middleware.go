package user

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
)

// Middleware wraps a Service with extra behaviour such as logging; the
// result is a Service too, so middlewares stack.
type Middleware func(Service) Service

// LoggingMiddleware logs one line per call: the method, the IDs it concerns
// (caller_id is the authenticated caller), the request ID, how long it took
// and the error. Passwords and tokens are never logged; an email is logged
// only when it is a well-formed address, so a password typed into the email
// field stays out of the log.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return &loggingMiddleware{next: next, logger: logger} }
}

type loggingMiddleware struct {
	next   Service
	logger log.Logger
}

func (mw *loggingMiddleware) log(ctx context.Context, method string, begin time.Time, err error, kv ...any) {
	if id, ok := shop.IdentityFrom(ctx); ok {
		kv = append(kv, "caller_id", id.UserID)
	}
	shop.LogCall(ctx, mw.logger, method, begin, err, kv...)
}

// loggableEmail returns email normalized if it is a valid address, else a
// placeholder.
func loggableEmail(email string) string {
	email = normalizeEmail(email)
	if validateEmail(email) != nil {
		return "[malformed]"
	}
	return email
}

func (mw *loggingMiddleware) Register(ctx context.Context, r Registration) (u User, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "Register", begin, err, "email", loggableEmail(r.Email), "user_id", u.ID)
	}(time.Now())
	return mw.next.Register(ctx, r)
}

func (mw *loggingMiddleware) Login(ctx context.Context, email, password string) (s Session, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "Login", begin, err, "email", loggableEmail(email), "user_id", s.User.ID)
	}(time.Now())
	return mw.next.Login(ctx, email, password)
}

func (mw *loggingMiddleware) GetUser(ctx context.Context, id string) (u User, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "GetUser", begin, err, "user_id", id)
	}(time.Now())
	return mw.next.GetUser(ctx, id)
}

func (mw *loggingMiddleware) Me(ctx context.Context) (u User, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "Me", begin, err, "user_id", u.ID)
	}(time.Now())
	return mw.next.Me(ctx)
}

func (mw *loggingMiddleware) ListUsers(ctx context.Context, p shop.PageRequest) (page shop.Page[User], err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "ListUsers", begin, err, "limit", p.Limit, "items", len(page.Items))
	}(time.Now())
	return mw.next.ListUsers(ctx, p)
}

func (mw *loggingMiddleware) DisableUser(ctx context.Context, id string) (u User, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "DisableUser", begin, err, "user_id", id)
	}(time.Now())
	return mw.next.DisableUser(ctx, id)
}

func (mw *loggingMiddleware) EnableUser(ctx context.Context, id string) (u User, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "EnableUser", begin, err, "user_id", id)
	}(time.Now())
	return mw.next.EnableUser(ctx, id)
}

// InstrumentingMiddleware records every call in m (ServiceMetrics.Record):
// the request counter and the latency histogram in seconds, labelled
// "method" and "code" (the error's shop.CodeOf, "" on success).
// shop.NewServiceMetrics makes Prometheus ones.
func InstrumentingMiddleware(m shop.ServiceMetrics) Middleware {
	return func(next Service) Service {
		return &instrumentingMiddleware{next: next, metrics: m}
	}
}

type instrumentingMiddleware struct {
	next    Service
	metrics shop.ServiceMetrics
}

func (mw *instrumentingMiddleware) Register(ctx context.Context, r Registration) (u User, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Register", begin, err) }(time.Now())
	return mw.next.Register(ctx, r)
}

func (mw *instrumentingMiddleware) Login(ctx context.Context, email, password string) (s Session, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Login", begin, err) }(time.Now())
	return mw.next.Login(ctx, email, password)
}

func (mw *instrumentingMiddleware) GetUser(ctx context.Context, id string) (u User, err error) {
	defer func(begin time.Time) { mw.metrics.Record("GetUser", begin, err) }(time.Now())
	return mw.next.GetUser(ctx, id)
}

func (mw *instrumentingMiddleware) Me(ctx context.Context) (u User, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Me", begin, err) }(time.Now())
	return mw.next.Me(ctx)
}

func (mw *instrumentingMiddleware) ListUsers(ctx context.Context, p shop.PageRequest) (page shop.Page[User], err error) {
	defer func(begin time.Time) { mw.metrics.Record("ListUsers", begin, err) }(time.Now())
	return mw.next.ListUsers(ctx, p)
}

func (mw *instrumentingMiddleware) DisableUser(ctx context.Context, id string) (u User, err error) {
	defer func(begin time.Time) { mw.metrics.Record("DisableUser", begin, err) }(time.Now())
	return mw.next.DisableUser(ctx, id)
}

func (mw *instrumentingMiddleware) EnableUser(ctx context.Context, id string) (u User, err error) {
	defer func(begin time.Time) { mw.metrics.Record("EnableUser", begin, err) }(time.Now())
	return mw.next.EnableUser(ctx, id)
}
