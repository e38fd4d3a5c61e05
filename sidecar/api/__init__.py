"""Flask blueprints: thin views over the engine, one blueprint per resource."""
