"""The original's catalog: products in SQLite (the stdlib's sqlite3), seeded with the same 1,000
products as catalog/src/products/seed.ts, GET /catalog and GET /catalog/{id}."""

import os
import sqlite3

from fastapi import HTTPException

from shop import create_app, mulberry32, simulate

CATEGORIES = ["books", "clothing", "electronics", "garden", "grocery", "home", "kitchen", "sports", "toys", "beauty"]
ADJECTIVES = [
    "Classic", "Compact", "Deluxe", "Eco", "Ergonomic", "Handmade", "Lightweight", "Modern",
    "Organic", "Portable", "Premium", "Rugged", "Sleek", "Smart", "Vintage", "Wireless",
]
NOUNS = {
    "books": ["Novel", "Cookbook", "Atlas", "Field Guide", "Anthology"],
    "clothing": ["Jacket", "Scarf", "Sweater", "Rain Coat", "T-Shirt"],
    "electronics": ["Headphones", "Keyboard", "Speaker", "Charger", "Monitor"],
    "garden": ["Trowel", "Planter", "Hose", "Seed Kit", "Pruner"],
    "grocery": ["Coffee Beans", "Olive Oil", "Green Tea", "Honey", "Pasta"],
    "home": ["Lamp", "Blanket", "Clock", "Mirror", "Rug"],
    "kitchen": ["Skillet", "Knife Set", "Kettle", "Cutting Board", "Mixer"],
    "sports": ["Yoga Mat", "Water Bottle", "Tennis Racket", "Backpack", "Dumbbells"],
    "toys": ["Puzzle", "Kite", "Robot Kit", "Board Game", "Plush Bear"],
    "beauty": ["Face Cream", "Shampoo", "Lip Balm", "Soap Bar", "Perfume"],
}
COLUMNS = ["id", "sku", "name", "description", "category", "price_cents", "currency"]


def generate_products(count: int, seed: int = 20_260_101):
    random = mulberry32(seed)

    def pick(items):
        return items[int(random() * len(items))]

    for index in range(count):
        product_id = index + 1
        category = CATEGORIES[index % len(CATEGORIES)]
        adjective = pick(ADJECTIVES)
        noun = pick(NOUNS[category])
        price = 199 + int(random() * 500) * 100
        price += pick([0, 49, 95, 99])
        yield (
            product_id,
            f"{category[:3].upper()}-{product_id:05d}",
            f"{adjective} {noun}",
            f"{adjective} {noun.lower()} from the ShopStack {category} range, item {product_id}.",
            category,
            price,
            "USD",
        )


def open_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL, description TEXT NOT NULL, category TEXT NOT NULL,"
        " price_cents INTEGER NOT NULL, currency TEXT NOT NULL)"
    )
    if db.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0:
        with db:
            db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)", generate_products(1000))
    return db


db = open_db(os.environ.get("DATABASE_PATH", ":memory:"))
app = create_app("catalog")


@app.get("/catalog")
async def list_products(page: int = 1, page_size: int = 20, category: str | None = None):
    await simulate(20, 60)
    offset = (page - 1) * page_size
    if category:
        rows = db.execute(
            "SELECT * FROM products WHERE category = ? ORDER BY id LIMIT ? OFFSET ?", (category, page_size, offset)
        ).fetchall()
        total = db.execute("SELECT COUNT(*) FROM products WHERE category = ?", (category,)).fetchone()[0]
    else:
        rows = db.execute("SELECT * FROM products ORDER BY id LIMIT ? OFFSET ?", (page_size, offset)).fetchall()
        total = db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
    items = [dict(zip(COLUMNS, row)) for row in rows]
    return {"items": items, "page": page, "page_size": page_size, "total": total}


@app.get("/catalog/{product_id}")
async def get_product(product_id: int):
    await simulate(20, 60)
    row = db.execute("SELECT * FROM products WHERE id = ?", (product_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"Product {product_id} does not exist")
    return dict(zip(COLUMNS, row))
