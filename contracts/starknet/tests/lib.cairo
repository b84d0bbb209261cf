mod test_registry;
mod vectors;
