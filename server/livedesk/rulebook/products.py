"""products.yaml: the catalogue a room sells from, and the check that every SKU named in other
rule files exists in it."""

from __future__ import annotations

from collections.abc import Iterator

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.loader import RuleError, line_of


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=40)
    price_cents: int = Field(ge=0)
    # What the host can say about it; interest in the room re-ranks these products.
    talking_points: list[str] = Field(default_factory=list)


class ProductRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    products: list[Product] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_skus(self) -> ProductRules:
        seen: set[str] = set()
        for product in self.products:
            if product.sku in seen:
                raise ValueError(f"SKU {product.sku} is listed twice")
            seen.add(product.sku)
        return self

    def by_sku(self) -> dict[str, Product]:
        return {product.sku: product for product in self.products}


RULE_FILES["products.yaml"] = ProductRules


def check_skus_exist(book: Rulebook) -> list[RuleError]:
    """A SKU named anywhere else (interest terms, greeting scenes) must be in the catalogue."""
    known = set(book.get(ProductRules).by_sku())
    errors: list[RuleError] = []
    for document in book.documents.values():
        if document.path.name == "products.yaml" or document.root is None:
            continue
        for node, path in _sku_scalars(document.root, ()):
            if node.value not in known:
                errors.append(
                    RuleError(
                        document.path.name,
                        line_of(document.root, path),
                        f"unknown SKU {node.value!r} (not in products.yaml)",
                    )
                )
    return errors


def _sku_scalars(
    node: yaml.Node, path: tuple[str | int, ...]
) -> Iterator[tuple[yaml.ScalarNode, tuple[str | int, ...]]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value in ("skus", "when_bought", "sku") and isinstance(value, yaml.SequenceNode):
                for index, item in enumerate(value.value):
                    if isinstance(item, yaml.ScalarNode):
                        yield item, (*path, key.value, index)
            elif key.value == "sku" and isinstance(value, yaml.ScalarNode):
                yield value, (*path, key.value)
            else:
                yield from _sku_scalars(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _sku_scalars(item, (*path, index))


CHECKS.append(check_skus_exist)
