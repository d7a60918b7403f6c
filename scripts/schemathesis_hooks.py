"""Schemathesis hooks for itarvault: how to generate the string formats that
docs/openapi.json names and JSON Schema cannot spell out."""
import schemathesis
from hypothesis import strategies as st

# Export-control labels (the grammar of the label parser): a few of each form, so that
# generated uploads carry labels the server accepts.
schemathesis.openapi.format(
    "itarvault-label",
    st.sampled_from([
        "ITAR:XI",
        "ITAR:XI(a)(3)",
        "ITAR:XI(a)(3);CUI//SP-EXPT",
        "EAR:9E003",
        "EAR99",
        "PUBLIC",
    ]),
)
