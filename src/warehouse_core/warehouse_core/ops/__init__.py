"""Warehouse operations: orders, stock, allocation, charging, parking, consolidation, packing,
shipping, forecasting, durable state."""
