"""The Streamlit front end; it calls only the engine's public API."""
