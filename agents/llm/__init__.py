"""The OpenAI-compatible model client and its structured-output helper.

    from agents.llm import LLMClient, llm_config
    cfg, notices = llm_config(args.llm_model, args.base_url, role="llm")   # discovers the model
    client = LLMClient(cfg) if cfg else None      # None: use the embedded default
"""

from agents.llm.client import LLMClient, Progress
from agents.llm.config import LLMConfig, Secret, safe_url
from agents.llm.errors import (
    AuthenticationFailed,
    BadOutput,
    ConfigError,
    ContextOverflow,
    EndpointError,
    EndpointTimeout,
    EndpointUnreachable,
    LLMError,
    ModelNotFound,
    RateLimited,
)
from agents.llm.endpoint import discover_model, llm_config, read_context_window
from agents.llm.images import contact_sheet, decode_data_url, image_data_url, image_part, text_part

__all__ = [
    "AuthenticationFailed", "BadOutput", "ConfigError", "ContextOverflow", "EndpointError", "EndpointTimeout",
    "EndpointUnreachable", "LLMClient", "LLMConfig", "LLMError", "ModelNotFound", "Progress", "RateLimited",
    "Secret", "contact_sheet", "decode_data_url", "discover_model", "image_data_url", "image_part", "llm_config",
    "read_context_window", "safe_url", "text_part",
]
