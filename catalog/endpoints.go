package catalog

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

// Endpoints holds one go-kit endpoint per Service method. On the server side
// MakeServerEndpoints builds them around a Service, for any transport to
// serve; on the client side a transport builds them around its calls
// (MakeClientEndpoints for HTTP), and Endpoints itself then implements
// Service. Wrap endpoint middleware (rate limits, breakers) around all of
// them with Wrap, or set single ones.
type Endpoints struct {
	CreateProductEndpoint endpoint.Endpoint
	GetProductEndpoint    endpoint.Endpoint
	UpdateProductEndpoint endpoint.Endpoint
	DeleteProductEndpoint endpoint.Endpoint
	ListProductsEndpoint  endpoint.Endpoint
}

var _ Service = Endpoints{}

// MakeServerEndpoints returns endpoints that call s, each wrapped in mw (the
// first is the outermost). A business error travels inside the response
// (its Failed method); only failures of the transport are endpoint errors.
func MakeServerEndpoints(s Service, mw ...endpoint.Middleware) Endpoints {
	e := Endpoints{
		CreateProductEndpoint: MakeCreateProductEndpoint(s),
		GetProductEndpoint:    MakeGetProductEndpoint(s),
		UpdateProductEndpoint: MakeUpdateProductEndpoint(s),
		DeleteProductEndpoint: MakeDeleteProductEndpoint(s),
		ListProductsEndpoint:  MakeListProductsEndpoint(s),
	}
	for i := len(mw) - 1; i >= 0; i-- {
		e = e.Wrap(mw[i])
	}
	return e
}

// Wrap returns the endpoints, each wrapped in mw.
func (e Endpoints) Wrap(mw endpoint.Middleware) Endpoints {
	return Endpoints{
		CreateProductEndpoint: mw(e.CreateProductEndpoint),
		GetProductEndpoint:    mw(e.GetProductEndpoint),
		UpdateProductEndpoint: mw(e.UpdateProductEndpoint),
		DeleteProductEndpoint: mw(e.DeleteProductEndpoint),
		ListProductsEndpoint:  mw(e.ListProductsEndpoint),
	}
}

// MakeCreateProductEndpoint returns an endpoint that calls s.CreateProduct:
// a CreateProductRequest in, a CreateProductResponse out.
func MakeCreateProductEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(CreateProductRequest)
		p, err := s.CreateProduct(ctx, req.NewProduct)
		return CreateProductResponse{Product: p, Err: err}, nil
	}
}

// MakeGetProductEndpoint returns an endpoint that calls s.GetProduct: a
// GetProductRequest in, a GetProductResponse out.
func MakeGetProductEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GetProductRequest)
		p, err := s.GetProduct(ctx, req.ID)
		return GetProductResponse{Product: p, Err: err}, nil
	}
}

// MakeUpdateProductEndpoint returns an endpoint that calls s.UpdateProduct:
// an UpdateProductRequest in, an UpdateProductResponse out.
func MakeUpdateProductEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(UpdateProductRequest)
		p, err := s.UpdateProduct(ctx, req.ID, req.Patch)
		return UpdateProductResponse{Product: p, Err: err}, nil
	}
}

// MakeDeleteProductEndpoint returns an endpoint that calls s.DeleteProduct:
// a DeleteProductRequest in, a DeleteProductResponse out.
func MakeDeleteProductEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(DeleteProductRequest)
		return DeleteProductResponse{Err: s.DeleteProduct(ctx, req.ID)}, nil
	}
}

// MakeListProductsEndpoint returns an endpoint that calls s.ListProducts: a
// ListProductsRequest in, a ListProductsResponse out.
func MakeListProductsEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ListProductsRequest)
		page, err := s.ListProducts(ctx, req.ListQuery)
		return ListProductsResponse{Page: page, Err: err}, nil
	}
}

// CreateProduct calls the CreateProductEndpoint.
func (e Endpoints) CreateProduct(ctx context.Context, p NewProduct) (Product, error) {
	r, err := unpack.Response[CreateProductResponse](e.CreateProductEndpoint(ctx, CreateProductRequest{NewProduct: p}))
	return r.Product, err
}

// GetProduct calls the GetProductEndpoint.
func (e Endpoints) GetProduct(ctx context.Context, id string) (Product, error) {
	r, err := unpack.Response[GetProductResponse](e.GetProductEndpoint(ctx, GetProductRequest{ID: id}))
	return r.Product, err
}

// UpdateProduct calls the UpdateProductEndpoint.
func (e Endpoints) UpdateProduct(ctx context.Context, id string, patch ProductPatch) (Product, error) {
	r, err := unpack.Response[UpdateProductResponse](e.UpdateProductEndpoint(ctx, UpdateProductRequest{ID: id, Patch: patch}))
	return r.Product, err
}

// DeleteProduct calls the DeleteProductEndpoint.
func (e Endpoints) DeleteProduct(ctx context.Context, id string) error {
	_, err := unpack.Response[DeleteProductResponse](e.DeleteProductEndpoint(ctx, DeleteProductRequest{ID: id}))
	return err
}

// ListProducts calls the ListProductsEndpoint.
func (e Endpoints) ListProducts(ctx context.Context, q ListQuery) (shop.Page[Product], error) {
	r, err := unpack.Response[ListProductsResponse](e.ListProductsEndpoint(ctx, ListProductsRequest{ListQuery: q}))
	if err == nil && r.Items == nil {
		r.Items = []Product{}
	}
	return r.Page, err
}

// CreateProductRequest is the input of the CreateProduct endpoint; its JSON
// form is the NewProduct object.
type CreateProductRequest struct {
	NewProduct
}

// CreateProductResponse is the output of the CreateProduct endpoint; its JSON
// form is the created product.
type CreateProductResponse struct {
	Product
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r CreateProductResponse) Failed() error { return r.Err }

// GetProductRequest is the input of the GetProduct endpoint.
type GetProductRequest struct {
	ID string `json:"id"`
}

// GetProductResponse is the output of the GetProduct endpoint; its JSON form
// is the product.
type GetProductResponse struct {
	Product
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r GetProductResponse) Failed() error { return r.Err }

// UpdateProductRequest is the input of the UpdateProduct endpoint: the ID of
// the product and the fields to change.
type UpdateProductRequest struct {
	ID    string       `json:"id"`
	Patch ProductPatch `json:"patch"`
}

// UpdateProductResponse is the output of the UpdateProduct endpoint; its JSON
// form is the updated product.
type UpdateProductResponse struct {
	Product
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r UpdateProductResponse) Failed() error { return r.Err }

// DeleteProductRequest is the input of the DeleteProduct endpoint.
type DeleteProductRequest struct {
	ID string `json:"id"`
}

// DeleteProductResponse is the output of the DeleteProduct endpoint: only
// the error, if any (a success carries nothing).
type DeleteProductResponse struct {
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r DeleteProductResponse) Failed() error { return r.Err }

// ListProductsRequest is the input of the ListProducts endpoint.
type ListProductsRequest struct {
	ListQuery
}

// ListProductsResponse is the output of the ListProducts endpoint; its JSON
// form is {"items":[...],"next_cursor":"..."}.
type ListProductsResponse struct {
	shop.Page[Product]
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r ListProductsResponse) Failed() error { return r.Err }

var (
	_ endpoint.Failer = CreateProductResponse{}
	_ endpoint.Failer = GetProductResponse{}
	_ endpoint.Failer = UpdateProductResponse{}
	_ endpoint.Failer = DeleteProductResponse{}
	_ endpoint.Failer = ListProductsResponse{}
)
