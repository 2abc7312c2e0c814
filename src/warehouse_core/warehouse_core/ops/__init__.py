"""Warehouse operations: orders, stock, allocation, charging, parking, consolidation, packing,
shipping, forecasting, durable state.

The allocator's decision state is :class:`~warehouse_core.ops.operations.WarehouseOps` (journaled:
:class:`~warehouse_core.ops.durable_ops.JournaledOps`), a facade over its parts: ``order_book``
(intake, pending lines), ``rack_ledger`` and ``replenishment`` (rack positions, reservations,
classes, stock refills), ``assignment`` (the default and baseline policies), ``errands``
(charging, parking), ``task_board`` (robots and their tasks), ``execution`` (task feedback and
failures) and ``dispatch`` (consolidation, packing, tracking). Its vocabulary (states, tasks,
events) is in ``model``, its settings in ``config``.
"""
