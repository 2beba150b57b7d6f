"""The route table of ``/v1``: method, path template, operation ID (as in the spec) and handler."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from assistdb.server import conversations, files, vector_stores
from assistdb.server.errors import HttpError
from assistdb.server.operations import Api, Call, Result

Handler = Callable[[Api, Call], Result | Awaitable[Result]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation_id: str
    handler: Handler
    takes_body: bool = False
    #: Assistants operations require ``OpenAI-Beta: assistants=v2``; files, vector stores and the
    #: Conversations API do not.
    beta: bool = True
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    @property
    def key(self) -> str:
        """How stats name the route, e.g. ``GET /v1/threads/{thread_id}/messages``."""
        return f"{self.method} {self.template}"


def _post(template: str, operation_id: str, handler: Handler, *, takes_body: bool = True) -> Route:
    return Route("POST", template, operation_id, handler, takes_body)


def _open(
    method: str, template: str, operation_id: str, handler: Handler, *, takes_body: bool = False
) -> Route:
    """An operation outside the Assistants beta (files, uploads, vector stores): no beta header."""
    return Route(method, template, operation_id, handler, takes_body, beta=False)


_VS = "/v1/vector_stores/{vector_store_id}"
FILE_ROUTES: tuple[Route, ...] = (
    _open("GET", "/v1/files", "listFiles", files.list_files),
    _open("POST", "/v1/files", "createFile", files.create_file),
    _open("GET", "/v1/files/{file_id}", "retrieveFile", files.get_file),
    _open("DELETE", "/v1/files/{file_id}", "deleteFile", files.delete_file),
    _open("GET", "/v1/files/{file_id}/content", "downloadFile", files.download_file),
    _open("POST", "/v1/uploads", "createUpload", files.create_upload, takes_body=True),
    _open("POST", "/v1/uploads/{upload_id}/parts", "addUploadPart", files.add_upload_part),
    _open(
        "POST", "/v1/uploads/{upload_id}/complete", "completeUpload", files.complete_upload, takes_body=True
    ),
    _open("POST", "/v1/uploads/{upload_id}/cancel", "cancelUpload", files.cancel_upload),
    _open("GET", "/v1/vector_stores", "listVectorStores", vector_stores.list_vector_stores),
    _open(
        "POST", "/v1/vector_stores", "createVectorStore", vector_stores.create_vector_store, takes_body=True
    ),
    _open("GET", _VS, "getVectorStore", vector_stores.get_vector_store),
    _open("POST", _VS, "modifyVectorStore", vector_stores.modify_vector_store, takes_body=True),
    _open("DELETE", _VS, "deleteVectorStore", vector_stores.delete_vector_store),
    _open("GET", f"{_VS}/files", "listVectorStoreFiles", vector_stores.list_vector_store_files),
    _open(
        "POST",
        f"{_VS}/files",
        "createVectorStoreFile",
        vector_stores.create_vector_store_file,
        takes_body=True,
    ),
    _open("GET", f"{_VS}/files/{{file_id}}", "getVectorStoreFile", vector_stores.get_vector_store_file),
    _open(
        "POST",
        f"{_VS}/files/{{file_id}}",
        "updateVectorStoreFileAttributes",
        vector_stores.update_vector_store_file,
        takes_body=True,
    ),
    _open(
        "DELETE", f"{_VS}/files/{{file_id}}", "deleteVectorStoreFile", vector_stores.delete_vector_store_file
    ),
    _open(
        "GET",
        f"{_VS}/files/{{file_id}}/content",
        "retrieveVectorStoreFileContent",
        vector_stores.vector_store_file_content,
    ),
    _open(
        "POST",
        f"{_VS}/file_batches",
        "createVectorStoreFileBatch",
        vector_stores.create_file_batch,
        takes_body=True,
    ),
    _open("GET", f"{_VS}/file_batches/{{batch_id}}", "getVectorStoreFileBatch", vector_stores.get_file_batch),
    _open(
        "POST",
        f"{_VS}/file_batches/{{batch_id}}/cancel",
        "cancelVectorStoreFileBatch",
        vector_stores.cancel_file_batch,
    ),
    _open(
        "GET",
        f"{_VS}/file_batches/{{batch_id}}/files",
        "listFilesInVectorStoreBatch",
        vector_stores.list_file_batch_files,
    ),
    _open("POST", f"{_VS}/search", "searchVectorStore", vector_stores.search_vector_store, takes_body=True),
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/assistants", "listAssistants", Api.list_assistants),
    _post("/v1/assistants", "createAssistant", Api.create_assistant),
    Route("GET", "/v1/assistants/{assistant_id}", "getAssistant", Api.get_assistant),
    _post("/v1/assistants/{assistant_id}", "modifyAssistant", Api.modify_assistant),
    Route("DELETE", "/v1/assistants/{assistant_id}", "deleteAssistant", Api.delete_assistant),
    _post("/v1/threads", "createThread", Api.create_thread),
    _post("/v1/threads/runs", "createThreadAndRun", Api.create_thread_and_run),
    Route("GET", "/v1/threads/{thread_id}", "getThread", Api.get_thread),
    _post("/v1/threads/{thread_id}", "modifyThread", Api.modify_thread),
    Route("DELETE", "/v1/threads/{thread_id}", "deleteThread", Api.delete_thread),
    Route("GET", "/v1/threads/{thread_id}/messages", "listMessages", Api.list_messages),
    _post("/v1/threads/{thread_id}/messages", "createMessage", Api.create_message),
    Route("GET", "/v1/threads/{thread_id}/messages/{message_id}", "getMessage", Api.get_message),
    _post("/v1/threads/{thread_id}/messages/{message_id}", "modifyMessage", Api.modify_message),
    Route("DELETE", "/v1/threads/{thread_id}/messages/{message_id}", "deleteMessage", Api.delete_message),
    Route("GET", "/v1/threads/{thread_id}/runs", "listRuns", Api.list_runs),
    _post("/v1/threads/{thread_id}/runs", "createRun", Api.create_run),
    Route("GET", "/v1/threads/{thread_id}/runs/{run_id}", "getRun", Api.get_run),
    _post("/v1/threads/{thread_id}/runs/{run_id}", "modifyRun", Api.modify_run),
    _post("/v1/threads/{thread_id}/runs/{run_id}/cancel", "cancelRun", Api.cancel_run, takes_body=False),
    Route("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps", "listRunSteps", Api.list_run_steps),
    Route("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", "getRunStep", Api.get_run_step),
    _post(
        "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "submitToolOuputsToRun",
        Api.submit_tool_outputs,
    ),
    *FILE_ROUTES,
    *(
        Route(method, f"/v1/conversations{path}", operation_id, handler, method == "POST", beta=False)
        for method, path, operation_id, handler in (
            ("POST", "", "createConversation", conversations.create_conversation),
            ("GET", "/{conversation_id}", "getConversation", conversations.get_conversation),
            ("POST", "/{conversation_id}", "updateConversation", conversations.update_conversation),
            ("DELETE", "/{conversation_id}", "deleteConversation", conversations.delete_conversation),
            ("GET", "/{conversation_id}/items", "listConversationItems", conversations.list_items),
            ("POST", "/{conversation_id}/items", "createConversationItems", conversations.create_items),
            ("GET", "/{conversation_id}/items/{item_id}", "getConversationItem", conversations.get_item),
            (
                "DELETE",
                "/{conversation_id}/items/{item_id}",
                "deleteConversationItem",
                conversations.delete_item,
            ),
        )
    ),
)


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


def match(method: str, path: str) -> Match:
    """The route for a request; literal segments win over parameters (``/threads/runs``).

    Raises the real API's 404 for an unknown path, and 405 for a known path with another method,
    whose ``Allow`` lists the methods of that path alone.
    """
    candidates: list[tuple[Route, dict[str, str]]] = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is not None:
            candidates.append((route, found.groupdict()))
    if not candidates:
        raise HttpError(404, f"Invalid URL ({method} {path})")
    # The path is the most literal template it matches: /v1/threads/runs is not thread "runs".
    fewest = min(len(params) for _, params in candidates)
    candidates = [(route, params) for route, params in candidates if len(params) == fewest]
    allowed = [(route, params) for route, params in candidates if route.method == method]
    if not allowed:
        methods = ", ".join(sorted({route.method for route, _ in candidates}))
        raise HttpError(405, f"Invalid method for URL ({method} {path})", headers={"Allow": methods})
    route, params = allowed[0]
    return Match(route, params)
