"""The original's gateway: the public API, proxying to the catalog and the cart with one shared
httpx.AsyncClient; the upstream's status and body are passed through as they are."""

import os

import httpx
from fastapi import Request, Response

from shop import create_app

CATALOG_URL = os.environ.get("CATALOG_SERVICE_URL", "http://localhost:8001")
CART_URL = os.environ.get("CART_SERVICE_URL", "http://localhost:8002")

app = create_app("gateway")
client: httpx.AsyncClient | None = None


@app.on_event("startup")
async def open_client():
    global client
    client = httpx.AsyncClient(timeout=5.0)


@app.on_event("shutdown")
async def close_client():
    if client is not None:
        await client.aclose()


async def forward(method: str, url: str, request: Request) -> Response:
    body = await request.body()
    headers = {"content-type": request.headers["content-type"]} if body else {}
    upstream = await client.request(method, url, params=request.query_params, content=body, headers=headers)
    return Response(
        upstream.content, status_code=upstream.status_code, media_type=upstream.headers.get("content-type")
    )


@app.get("/")
async def info():
    return {"name": "shopstack-gateway", "version": "original", "upstreams": {"catalog": CATALOG_URL, "cart": CART_URL}}


@app.get("/catalog")
async def list_products(request: Request):
    return await forward("GET", f"{CATALOG_URL}/catalog", request)


@app.get("/catalog/{product_id}")
async def get_product(product_id: int, request: Request):
    return await forward("GET", f"{CATALOG_URL}/catalog/{product_id}", request)


@app.post("/cart/add")
async def add(request: Request):
    return await forward("POST", f"{CART_URL}/cart/add", request)


@app.get("/cart/{cart_id}")
async def get_cart(cart_id: str, request: Request):
    return await forward("GET", f"{CART_URL}/cart/{cart_id}", request)


@app.delete("/cart/{cart_id}/items/{product_id}")
async def remove_line(cart_id: str, product_id: int, request: Request):
    return await forward("DELETE", f"{CART_URL}/cart/{cart_id}/items/{product_id}", request)


@app.delete("/cart/{cart_id}")
async def clear(cart_id: str, request: Request):
    return await forward("DELETE", f"{CART_URL}/cart/{cart_id}", request)
