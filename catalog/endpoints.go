package catalog

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

// Endpoints holds one go-kit endpoint per Service method. On the server side
// MakeServerEndpoints builds them around a Service; on the client side
// MakeClientEndpoints builds them around HTTP calls, and Endpoints itself then
// implements Service. Wrap single endpoints with endpoint middleware (rate
// limits, breakers) before use.
type Endpoints struct {
	CreateProductEndpoint endpoint.Endpoint
	GetProductEndpoint    endpoint.Endpoint
	UpdateProductEndpoint endpoint.Endpoint
	DeleteProductEndpoint endpoint.Endpoint
	ListProductsEndpoint  endpoint.Endpoint
}

var _ Service = Endpoints{}

// MakeServerEndpoints returns endpoints that call s. A business error travels
// inside the response (its Failed method); only failures of the transport
// are endpoint errors.
func MakeServerEndpoints(s Service) Endpoints {
	return Endpoints{
		CreateProductEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(CreateProductRequest)
			p, err := s.CreateProduct(ctx, req.NewProduct)
			return CreateProductResponse{Product: p, Err: err}, nil
		},
		GetProductEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(GetProductRequest)
			p, err := s.GetProduct(ctx, req.ID)
			return GetProductResponse{Product: p, Err: err}, nil
		},
		UpdateProductEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(UpdateProductRequest)
			p, err := s.UpdateProduct(ctx, req.ID, req.Patch)
			return UpdateProductResponse{Product: p, Err: err}, nil
		},
		DeleteProductEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(DeleteProductRequest)
			return DeleteProductResponse{Err: s.DeleteProduct(ctx, req.ID)}, nil
		},
		ListProductsEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(ListProductsRequest)
			page, err := s.ListProducts(ctx, req.ListQuery)
			return ListProductsResponse{Page: page, Err: err}, nil
		},
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
// form is the created product, sent with status 201.
type CreateProductResponse struct {
	Product
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r CreateProductResponse) Failed() error { return r.Err }

// StatusCode is 201 Created.
func (r CreateProductResponse) StatusCode() int { return http.StatusCreated }

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

// UpdateProductRequest is the input of the UpdateProduct endpoint. Over HTTP
// the ID is in the path and the patch is the body.
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

// DeleteProductResponse is the output of the DeleteProduct endpoint; over
// HTTP a success is 204 with no body.
type DeleteProductResponse struct {
	Err error `json:"-"`
}

// Failed returns the business error, if any.
func (r DeleteProductResponse) Failed() error { return r.Err }

// NoContent is true: a successful delete has no body.
func (r DeleteProductResponse) NoContent() bool { return true }

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
