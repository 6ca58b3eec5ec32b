"""The OpenAI-compatible model client and its structured-output helper.

    from agents.llm import LLMClient, LLMConfig
    cfg = LLMConfig.from_env(model=args.llm_model, base_url=args.base_url, role="llm")
    client = LLMClient(cfg) if cfg else None      # None: use the embedded default
"""

from agents.llm.client import LLMClient
from agents.llm.config import LLMConfig, Secret, safe_url
from agents.llm.errors import (
    AuthenticationFailed,
    BadOutput,
    ConfigError,
    EndpointError,
    EndpointTimeout,
    EndpointUnreachable,
    LLMError,
    ModelNotFound,
    RateLimited,
)
from agents.llm.images import contact_sheet, decode_data_url, image_data_url, image_part, text_part

__all__ = [
    "AuthenticationFailed", "BadOutput", "ConfigError", "EndpointError", "EndpointTimeout",
    "EndpointUnreachable", "LLMClient", "LLMConfig", "LLMError", "ModelNotFound", "RateLimited",
    "Secret", "contact_sheet", "decode_data_url", "image_data_url", "image_part", "safe_url",
    "text_part",
]
