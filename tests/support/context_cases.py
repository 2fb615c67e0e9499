"""Small multi-file repositories in seven languages, and diffs of one line in them.

Each case has a pricing module defining `apply discount`, an order service
whose long method (filler lines push its first line far above the change)
calls it on its last lines, and a checkout module calling that method. The
change edits the discount call, so good context holds: the method's first
line, the discount function's definition and the checkout caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.diff.chunks import ChunkFile
from worker.diff.parse import parse_patch

FILLER_LINES = 85


@dataclass(frozen=True)
class LanguageCase:
    language: str
    files: dict[str, str]  # head revision
    changed_path: str
    changed_marker: str  # text of the changed line (new version), unique in its file
    old_line: str  # the line it replaced
    method: str  # the changed method's name and the start of its first line
    method_line: str
    helper: str  # the used function's name and the start of its definition line
    helper_path: str
    helper_line: str
    caller_path: str
    caller_line: str  # the call of `method` in the caller file


def _fill(template: str, indent: str, line: str) -> str:
    filler = "\n".join(indent + line.format(i=i) for i in range(FILLER_LINES))
    return template.replace("{filler}", filler)


def _case(language: str, **fields: str) -> LanguageCase:
    files = {
        fields["helper_path"]: fields.pop("helper_src"),
        fields["changed_path"]: _fill(
            fields.pop("service_src"), fields.pop("indent"), fields.pop("filler")
        ),
        fields["caller_path"]: fields.pop("caller_src"),
    }
    return LanguageCase(language=language, files=files, **fields)


CASES = [
    _case(
        "python",
        helper_path="shop/pricing.py",
        helper_src="def apply_discount(total, rate):\n    return total * (1 - rate)\n",
        changed_path="shop/orders.py",
        service_src=(
            "from shop.pricing import apply_discount\n\n\nclass OrderService:\n"
            "    def process_order(self, order):\n{filler}\n"
            "        total = apply_discount(order.total, 0.1)\n        return total\n"
        ),
        indent="        ",
        filler="step_{i} = order.total + {i}",
        caller_path="api/checkout.py",
        caller_src=(
            "from shop.orders import OrderService\n\n\ndef checkout(request):\n"
            "    service = OrderService()\n    return service.process_order(request.order)\n"
        ),
        changed_marker="        total = apply_discount(order.total, 0.1)",
        old_line="        total = apply_discount(order.total, 0.2)",
        method="process_order",
        method_line="    def process_order(self, order):",
        helper="apply_discount",
        helper_line="def apply_discount(total, rate):",
        caller_line="    return service.process_order(request.order)",
    ),
    _case(
        "javascript",
        helper_path="src/pricing.js",
        helper_src=(
            "export function applyDiscount(total, rate) {\n  return total * (1 - rate);\n}\n"
        ),
        changed_path="src/orders.js",
        service_src=(
            "import { applyDiscount } from './pricing.js';\n\nexport class OrderService {\n"
            "  processOrder(order) {\n{filler}\n"
            "    const total = applyDiscount(order.total, 0.1);\n    return total;\n  }\n}\n"
        ),
        indent="    ",
        filler="const step{i} = order.total + {i};",
        caller_path="web/checkout.js",
        caller_src=(
            "import { OrderService } from '../src/orders.js';\n\n"
            "export const checkout = (request) => {\n  const service = new OrderService();\n"
            "  return service.processOrder(request.order);\n};\n"
        ),
        changed_marker="    const total = applyDiscount(order.total, 0.1);",
        old_line="    const total = applyDiscount(order.total, 0.2);",
        method="processOrder",
        method_line="  processOrder(order) {",
        helper="applyDiscount",
        helper_line="export function applyDiscount(total, rate) {",
        caller_line="  return service.processOrder(request.order);",
    ),
    _case(
        "typescript",
        helper_path="src/pricing.ts",
        helper_src=(
            "export function applyDiscount(total: number, rate: number): number {\n"
            "  return total * (1 - rate);\n}\n"
        ),
        changed_path="src/orders.ts",
        service_src=(
            "import { applyDiscount } from './pricing';\n\ninterface Order { total: number }\n\n"
            "export class OrderService {\n  processOrder(order: Order): number {\n{filler}\n"
            "    const total = applyDiscount(order.total, 0.1);\n    return total;\n  }\n}\n"
        ),
        indent="    ",
        filler="const step{i}: number = order.total + {i};",
        caller_path="web/checkout.ts",
        caller_src=(
            "import { OrderService } from '../src/orders';\n\n"
            "export function checkout(request: Request): number {\n"
            "  const service = new OrderService();\n"
            "  return service.processOrder(request.order);\n}\n"
        ),
        changed_marker="    const total = applyDiscount(order.total, 0.1);",
        old_line="    const total = applyDiscount(order.total, 0.2);",
        method="processOrder",
        method_line="  processOrder(order: Order): number {",
        helper="applyDiscount",
        helper_line="export function applyDiscount(total: number, rate: number): number {",
        caller_line="  return service.processOrder(request.order);",
    ),
    _case(
        "go",
        helper_path="pricing/pricing.go",
        helper_src=(
            "package pricing\n\nfunc ApplyDiscount(total float64, rate float64) float64 {\n"
            "\treturn total * (1 - rate)\n}\n"
        ),
        changed_path="orders/orders.go",
        service_src=(
            'package orders\n\nimport "example.com/shop/pricing"\n\ntype Service struct{}\n\n'
            "func (s *Service) ProcessOrder(order Order) float64 {\n{filler}\n"
            "\ttotal := pricing.ApplyDiscount(order.Total, 0.1)\n\treturn total\n}\n"
        ),
        indent="\t",
        filler="step{i} := order.Total + {i}",
        caller_path="api/checkout.go",
        caller_src=(
            "package api\n\nfunc Checkout(r Request) float64 {\n\ts := &orders.Service{}\n"
            "\treturn s.ProcessOrder(r.Order)\n}\n"
        ),
        changed_marker="\ttotal := pricing.ApplyDiscount(order.Total, 0.1)",
        old_line="\ttotal := pricing.ApplyDiscount(order.Total, 0.2)",
        method="ProcessOrder",
        method_line="func (s *Service) ProcessOrder(order Order) float64 {",
        helper="ApplyDiscount",
        helper_line="func ApplyDiscount(total float64, rate float64) float64 {",
        caller_line="\treturn s.ProcessOrder(r.Order)",
    ),
    _case(
        "java",
        helper_path="src/shop/Pricing.java",
        helper_src=(
            "package shop;\n\npublic final class Pricing {\n"
            "    public static double applyDiscount(double total, double rate) {\n"
            "        return total * (1 - rate);\n    }\n}\n"
        ),
        changed_path="src/shop/OrderService.java",
        service_src=(
            "package shop;\n\nimport static shop.Pricing.applyDiscount;\n\n"
            "public class OrderService {\n    public double processOrder(Order order) {\n"
            "{filler}\n        double total = applyDiscount(order.total, 0.1);\n"
            "        return total;\n    }\n}\n"
        ),
        indent="        ",
        filler="double step{i} = order.total + {i};",
        caller_path="src/api/Checkout.java",
        caller_src=(
            "package api;\n\nimport shop.OrderService;\n\npublic class Checkout {\n"
            "    public double checkout(Request request) {\n"
            "        OrderService service = new OrderService();\n"
            "        return service.processOrder(request.order);\n    }\n}\n"
        ),
        changed_marker="        double total = applyDiscount(order.total, 0.1);",
        old_line="        double total = applyDiscount(order.total, 0.2);",
        method="processOrder",
        method_line="    public double processOrder(Order order) {",
        helper="applyDiscount",
        helper_line="    public static double applyDiscount(double total, double rate) {",
        caller_line="        return service.processOrder(request.order);",
    ),
    _case(
        "ruby",
        helper_path="lib/pricing.rb",
        helper_src=(
            "module Pricing\n  def self.apply_discount(total, rate)\n    total * (1 - rate)\n"
            "  end\nend\n"
        ),
        changed_path="lib/order_service.rb",
        service_src=(
            "require_relative 'pricing'\n\nclass OrderService\n  def process_order(order)\n"
            "{filler}\n    total = Pricing.apply_discount(order.total, 0.1)\n    total\n"
            "  end\nend\n"
        ),
        indent="    ",
        filler="step_{i} = order.total + {i}",
        caller_path="app/checkout.rb",
        caller_src=(
            "class Checkout\n  def call(request)\n    service = OrderService.new\n"
            "    service.process_order(request.order)\n  end\nend\n"
        ),
        changed_marker="    total = Pricing.apply_discount(order.total, 0.1)",
        old_line="    total = Pricing.apply_discount(order.total, 0.2)",
        method="process_order",
        method_line="  def process_order(order)",
        helper="apply_discount",
        helper_line="  def self.apply_discount(total, rate)",
        caller_line="    service.process_order(request.order)",
    ),
    _case(
        "rust",
        helper_path="src/pricing.rs",
        helper_src=(
            "pub fn apply_discount(total: f64, rate: f64) -> f64 {\n    total * (1.0 - rate)\n}\n"
        ),
        changed_path="src/orders.rs",
        service_src=(
            "use crate::pricing::apply_discount;\n\npub struct OrderService;\n\n"
            "impl OrderService {\n    pub fn process_order(&self, order: &Order) -> f64 {\n"
            "{filler}\n        let total = apply_discount(order.total, 0.1);\n        total\n"
            "    }\n}\n"
        ),
        indent="        ",
        filler="let step_{i} = order.total + {i} as f64;",
        caller_path="src/api.rs",
        caller_src=(
            "pub fn checkout(request: &Request) -> f64 {\n    let service = OrderService;\n"
            "    service.process_order(&request.order)\n}\n"
        ),
        changed_marker="        let total = apply_discount(order.total, 0.1);",
        old_line="        let total = apply_discount(order.total, 0.2);",
        method="process_order",
        method_line="    pub fn process_order(&self, order: &Order) -> f64 {",
        helper="apply_discount",
        helper_line="pub fn apply_discount(total: f64, rate: f64) -> f64 {",
        caller_line="    service.process_order(&request.order)",
    ),
]


def line_of(text: str, starts_with: str) -> int:
    """1-based number of the first line of `text` starting with `starts_with`."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith(starts_with):
            return number
    raise AssertionError(f"no line starts with {starts_with!r}")


def one_line_change(path: str, text: str, line: int, old: str, *, context: int = 3) -> ChunkFile:
    """A chunk file whose one hunk replaces `old` by the head's line `line`."""
    lines = text.split("\n")
    first = max(1, line - context)
    last = min(len(lines), line + context)
    body = [f" {lines[n - 1]}" for n in range(first, line)]
    body += [f"-{old}", f"+{lines[line - 1]}"]
    body += [f" {lines[n - 1]}" for n in range(line + 1, last + 1)]
    count = last - first + 1
    patch = f"@@ -{first},{count} +{first},{count} @@\n" + "\n".join(body) + "\n"
    return ChunkFile(path=path, status="modified", hunks=parse_patch(patch, path=path))


def case_change(case: LanguageCase) -> tuple[ChunkFile, int]:
    text = case.files[case.changed_path]
    line = line_of(text, case.changed_marker)
    return one_line_change(case.changed_path, text, line, case.old_line), line
