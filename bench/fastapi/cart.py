"""The original's cart: lines in SQLite, each product looked up in the catalog (one shared
httpx.AsyncClient); POST /cart/add, GET /cart/{id}, DELETE /cart/{id}, and removing one line."""

import os
import sqlite3

import httpx
from fastapi import HTTPException
from pydantic import BaseModel, Field

from shop import SimulatedFailure, create_app, simulate

CATALOG_URL = os.environ.get("CATALOG_SERVICE_URL", "http://localhost:8001")


class AddToCart(BaseModel):
    cart_id: str = Field(regex=r"^[A-Za-z0-9_-]{1,64}$")
    product_id: int = Field(ge=1)
    quantity: int = Field(ge=1, le=99)


db = sqlite3.connect(os.environ.get("DATABASE_PATH", ":memory:"), check_same_thread=False)
db.execute("PRAGMA journal_mode = WAL")
db.execute(
    "CREATE TABLE IF NOT EXISTS cart_lines (cart_id TEXT NOT NULL, product_id INTEGER NOT NULL,"
    " name TEXT NOT NULL, unit_price_cents INTEGER NOT NULL, currency TEXT NOT NULL,"
    " quantity INTEGER NOT NULL, PRIMARY KEY (cart_id, product_id))"
)
app = create_app("cart")
client: httpx.AsyncClient | None = None


@app.on_event("startup")
async def open_client():
    global client
    client = httpx.AsyncClient(base_url=CATALOG_URL, timeout=5.0)


@app.on_event("shutdown")
async def close_client():
    if client is not None:
        await client.aclose()


def cart_of(cart_id: str) -> dict:
    rows = db.execute(
        "SELECT product_id, name, unit_price_cents, currency, quantity FROM cart_lines"
        " WHERE cart_id = ? ORDER BY product_id",
        (cart_id,),
    ).fetchall()
    lines = [
        {
            "product_id": product_id,
            "name": name,
            "unit_price_cents": price,
            "currency": currency,
            "quantity": quantity,
            "line_total_cents": price * quantity,
        }
        for product_id, name, price, currency, quantity in rows
    ]
    return {
        "cart_id": cart_id,
        "lines": lines,
        "item_count": sum(line["quantity"] for line in lines),
        "total_cents": sum(line["line_total_cents"] for line in lines),
        "currency": lines[0]["currency"] if lines else "USD",
    }


async def simulated_write() -> None:
    try:
        await simulate(30, 90, failure_rate=0.01)
    except SimulatedFailure:
        raise HTTPException(status_code=503, detail="Simulated database failure; nothing was written")


@app.post("/cart/add")
async def add(body: AddToCart):
    response = await client.get(f"/catalog/{body.product_id}")
    if response.status_code == 404:
        raise HTTPException(status_code=404, detail=f"Product {body.product_id} does not exist")
    if response.status_code != 200:
        raise HTTPException(status_code=502, detail="The catalog did not answer")
    product = response.json()
    await simulated_write()
    with db:
        db.execute(
            "INSERT INTO cart_lines VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cart_id, product_id)"
            " DO UPDATE SET quantity = quantity + excluded.quantity",
            (body.cart_id, product["id"], product["name"], product["price_cents"], product["currency"], body.quantity),
        )
    return cart_of(body.cart_id)


@app.get("/cart/{cart_id}")
async def get_cart(cart_id: str):
    return cart_of(cart_id)


@app.delete("/cart/{cart_id}/items/{product_id}")
async def remove_line(cart_id: str, product_id: int):
    await simulated_write()
    with db:
        removed = db.execute(
            "DELETE FROM cart_lines WHERE cart_id = ? AND product_id = ?", (cart_id, product_id)
        ).rowcount
    if removed == 0:
        raise HTTPException(status_code=404, detail=f"Cart {cart_id} has no product {product_id}")
    return cart_of(cart_id)


@app.delete("/cart/{cart_id}")
async def clear(cart_id: str):
    await simulated_write()
    with db:
        db.execute("DELETE FROM cart_lines WHERE cart_id = ?", (cart_id,))
    return cart_of(cart_id)
