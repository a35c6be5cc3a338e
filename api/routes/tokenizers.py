"""``/tokenizers``: what a remote trainer needs to use a registered tokenizer (readers read).

Training a tokenizer writes the store and the database together, so it is a local command
(``provreg tokenizer train``); over the API a trainer lists, reads and downloads them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.deps import ReaderDep, SessionDep
from api.problems import responses
from registry import tokenizers
from registry.entities.tokenizers import TokenizerOut
from registry.errors import NotFound

router = APIRouter(prefix="/tokenizers", tags=["tokenizers"])
AUTH = (401, 403)
TokenizerRef = Annotated[
    str, Path(min_length=8, max_length=64, description="tokenizer id or a unique prefix (8+ hex)")
]


@router.get("", response_model=list[TokenizerOut], responses=responses(*AUTH))
def list_tokenizers(session: SessionDep, _: ReaderDep) -> list[TokenizerOut]:
    """Every registered tokenizer, oldest first."""
    return tokenizers.list_tokenizers(session)


@router.get("/{tokenizer}", response_model=TokenizerOut, responses=responses(*AUTH, 404, 422))
def get_tokenizer(tokenizer: TokenizerRef, session: SessionDep, _: ReaderDep) -> TokenizerOut:
    """A tokenizer: its kind, vocabulary, settings and the manifest it was trained on."""
    return tokenizers.get_tokenizer(session, tokenizer)


@router.get(
    "/{tokenizer}/content",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "the tokenizer file"},
        **responses(*AUTH, 404, 422),
    },
)
def get_content(
    tokenizer: TokenizerRef, request: Request, session: SessionDep, _: ReaderDep
) -> Response:
    """The tokenizer file's bytes; ``ETag`` is its id (its SHA-256), so a client can check them."""
    info = tokenizers.get_tokenizer(session, tokenizer)
    try:
        data = tokenizers.read_tokenizer_bytes(request.app.state.store.url, info.id)
    except FileNotFoundError as exc:
        raise NotFound(f"tokenizer {info.id}'s file is not in the store") from exc
    return Response(
        data,
        media_type="application/json",
        headers={"ETag": f'"{info.id}"', "Cache-Control": "public, max-age=31536000, immutable"},
    )
