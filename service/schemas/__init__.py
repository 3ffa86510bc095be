"""marshmallow schemas: one per request or response shape; OpenAPI is generated from them."""
