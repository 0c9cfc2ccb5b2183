"""A throwaway git repository shaped like ik_llama.cpp, with stand-in tools, to rehearse the runbook on.

Nothing here is the real project: the sources are short stand-ins written for rehearsal, shaped so that every edit
of the runbook applies (the functions sit at other lines than the runbook says, as they do in today's tree). The
sandbox is a fork with an AMX buffer type (``ggml-amx.cpp``) whose scheduler, shaped like ik_llama.cpp's, offloads
ops with weights without a host-buffer guard: the checkout the runbook's crash needs, and approach B fixes. The
model file is a GGUF header and a label, and ``cmake``, ``numactl``, ``llama-cli`` and ``llama-bench`` are small
Python programs that behave enough like the real ones for the wizard to be walked end to end.
"""

from __future__ import annotations

import os
import shlex
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SUBJECT_HEAD = "Fix AMX+GPU segfault by implementing cpy_tensor"
MODEL_NAME = "Qwen3-30B-A3B-Thinking-2507-Q4_0-standin.gguf"
STANDIN_NOTE = "amxwizard rehearsal stand-in: not the real ik_llama.cpp"
_AUTHOR = ("Rehearsal Sandbox", "rehearsal@amxwizard.invalid")
TMP_ROOT = "/tmp"  # the root runbook.yaml declares for the diagnostic script and the backup location file


class SandboxError(Exception):
    """The sandbox cannot be built; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A built sandbox: where things are, and the runbook variables that point the wizard at it."""

    root: Path
    repo: Path
    model: Path
    tools: Path
    overrides: dict[str, str] = field(default_factory=dict)
    head: str = ""  # full hash of the sandbox HEAD


# --- the files ------------------------------------------------------------------------------------------------

README = f"""\
# Rehearsal sandbox

This is an {STANDIN_NOTE}. It was made by `amxwizard rehearse` so the
AMX+GPU scheduler-fix runbook can be walked end to end without touching a real checkout, a GPU or a 30B model.

- `ggml/src/` holds short stand-in sources, shaped like the real files where the runbook edits them.
- `cmake` and `numactl` are stand-ins in `../tools/`; the stand-in cmake writes `build/bin/llama-cli` and
  `build/bin/llama-bench`, which are stand-ins too.
- The model in `../models/` is a GGUF header and a label, not a model.

Throw the whole folder away when you are done.
"""

FIX_DOC = """\
# AMX+GPU Hybrid Scheduler Fix

Working notes for the hybrid AMX (CPU) + CUDA mode. (Rehearsal sandbox copy: a stand-in, not the real notes.)

## Background

With AMX weights in host memory and some layers offloaded to the GPU, short prompts run at about 61 t/s. Long
prompts (200+ tokens) crash right after prompt processing: the scheduler asks for an AMX weight tensor to be copied
to CUDA, the CUDA buffer's `cpy_tensor` cannot read the VNNI layout, and the slow fallback asserts in `get_tensor`.

## Current Status

- Short prompts: working, ~61 t/s token generation.
- Long prompts: crash after prompt processing (hybrid mode only).
- Last fix: `cpy_tensor` for the AMX buffer (the segfault on short prompts).

## Plan

1. Log every tensor copy between backends and find the weight being copied.
2. Keep operations on the backend that holds their weights (or refuse weight copies outright).
3. Re-run the long, short, CPU-only and GPU-only tests, and the benchmarks.

## Notes

Hand-written notes stay as they are; the wizard only rewrites the "Current Status" section.
"""

SESSION_DOC = """\
# AMX session notes (current)

Rehearsal sandbox copy: a stand-in, not the real notes.

## Where things are

- Build: `cmake --build build -j` (the stand-in cmake in the sandbox's tools folder).
- Model: the stand-in GGUF in the sandbox's models folder.

## Open issues

- Long prompts crash in AMX+GPU hybrid mode.
"""

TOP_CMAKELISTS = f"""\
# {STANDIN_NOTE}
cmake_minimum_required(VERSION 3.14)
project("llama.cpp" C CXX)

option(GGML_CUDA "ggml: use CUDA" ON)
option(GGML_AMX  "ggml: use AMX"  ON)

add_subdirectory(ggml/src)

add_executable(llama-cli   examples/main/main.cpp)
add_executable(llama-bench examples/llama-bench/llama-bench.cpp)
target_link_libraries(llama-cli   PRIVATE ggml)
target_link_libraries(llama-bench PRIVATE ggml)
"""

GGML_CMAKELISTS = f"""\
# {STANDIN_NOTE}
# Builds libggml from the sources next to this file.

set(GGML_SOURCES
    ggml.c
    ggml-backend.cpp
)

if (GGML_CUDA)
    list(APPEND GGML_SOURCES ggml-cuda.cu)
    add_compile_definitions(GGML_USE_CUDA)
endif()

if (GGML_AMX)
    list(APPEND GGML_SOURCES ggml-amx.cpp)
    add_compile_definitions(GGML_USE_AMX)
endif()

add_library(ggml ${{GGML_SOURCES}})

target_include_directories(ggml PUBLIC ../include)
target_compile_features(ggml PRIVATE c_std_11 cxx_std_17)

if (GGML_CUDA)
    set_target_properties(ggml PROPERTIES CUDA_ARCHITECTURES "80;86;89")
endif()
"""

GGML_C = f"""\
// {STANDIN_NOTE}.
// A few of ggml's core helpers, enough for the rehearsal build to have a C file to compile.

#include "ggml.h"
#include "ggml-impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char * GGML_OP_NAME[] = {{
    "NONE",
    "DUP",
    "ADD",
    "MUL",
    "MUL_MAT",
    "MUL_MAT_ID",
    "CPY",
    "GET_ROWS",
}};

const char * ggml_op_name(enum ggml_op op) {{
    return GGML_OP_NAME[op];
}}

size_t ggml_nbytes(const struct ggml_tensor * tensor) {{
    size_t nbytes = ggml_type_size(tensor->type);
    for (int i = 1; i < GGML_MAX_DIMS; ++i) {{
        nbytes += (tensor->ne[i] - 1) * tensor->nb[i];
    }}
    return nbytes + (tensor->ne[0] - 1) * tensor->nb[0];
}}

const char * ggml_get_name(const struct ggml_tensor * tensor) {{
    return tensor->name;
}}

struct ggml_tensor * ggml_set_name(struct ggml_tensor * tensor, const char * name) {{
    size_t i;
    for (i = 0; i < sizeof(tensor->name) - 1 && name[i] != '\\0'; i++) {{
        tensor->name[i] = name[i];
    }}
    tensor->name[i] = '\\0';
    return tensor;
}}
"""

AMX_C_ADDITION = """
// AMX: weights of AMX buffers are repacked into the VNNI layout at load time.
bool ggml_amx_buffer_is_vnni(const struct ggml_tensor * tensor) {
    return tensor->buffer != NULL && strcmp(ggml_backend_buffer_name(tensor->buffer), "AMX") == 0;
}
"""

GGML_BACKEND_CPP = f"""\
// {STANDIN_NOTE}.
// Shaped like ggml/src/ggml-backend.cpp around the functions the AMX+GPU scheduler-fix runbook edits; the rest is
// trimmed to a few representative pieces.

#include "ggml-backend-impl.h"
#include "ggml-alloc.h"
#include "ggml-impl.h"

#include <cassert>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define MAX(a, b) ((a) > (b) ? (a) : (b))

// backend buffer type

const char * ggml_backend_buft_name(ggml_backend_buffer_type_t buft) {{
    return buft->iface.get_name(buft);
}}

GGML_CALL ggml_backend_buffer_t ggml_backend_buft_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size) {{
    return buft->iface.alloc_buffer(buft, size);
}}

size_t ggml_backend_buft_get_alignment(ggml_backend_buffer_type_t buft) {{
    return buft->iface.get_alignment(buft);
}}

size_t ggml_backend_buft_get_max_size(ggml_backend_buffer_type_t buft) {{
    // optional: no limit unless the buffer type says so
    if (buft->iface.get_max_size) {{
        return buft->iface.get_max_size(buft);
    }}
    return SIZE_MAX;
}}

bool ggml_backend_buft_is_host(ggml_backend_buffer_type_t buft) {{
    if (buft->iface.is_host) {{
        return buft->iface.is_host(buft);
    }}
    return false;
}}

// backend buffer

const char * ggml_backend_buffer_name(ggml_backend_buffer_t buffer) {{
    return buffer->iface.get_name(buffer);
}}

void ggml_backend_buffer_free(ggml_backend_buffer_t buffer) {{
    if (buffer == NULL) {{
        return;
    }}

    if (buffer->iface.free_buffer != NULL) {{
        buffer->iface.free_buffer(buffer);
    }}
    delete buffer;
}}

size_t ggml_backend_buffer_get_size(ggml_backend_buffer_t buffer) {{
    return buffer->size;
}}

void * ggml_backend_buffer_get_base(ggml_backend_buffer_t buffer) {{
    void * base = buffer->iface.get_base(buffer);

    GGML_ASSERT(base != NULL && "backend buffer base cannot be NULL");

    return base;
}}

bool ggml_backend_buffer_is_host(ggml_backend_buffer_t buffer) {{
    return buffer && ggml_backend_buft_is_host(ggml_backend_buffer_get_type(buffer));
}}

void ggml_backend_buffer_set_usage(ggml_backend_buffer_t buffer, enum ggml_backend_buffer_usage usage) {{
    buffer->usage = usage;
}}

enum ggml_backend_buffer_usage ggml_backend_buffer_get_usage(ggml_backend_buffer_t buffer) {{
    return buffer->usage;
}}

ggml_backend_buffer_type_t ggml_backend_buffer_get_type(ggml_backend_buffer_t buffer) {{
    return buffer->buft;
}}

bool ggml_backend_buffer_copy_tensor(const struct ggml_tensor * src, struct ggml_tensor * dst) {{
    ggml_backend_buffer_t dst_buf = dst->view_src ? dst->view_src->buffer : dst->buffer;
    if (dst_buf->iface.cpy_tensor) {{
        return dst_buf->iface.cpy_tensor(dst_buf, src, dst);
    }}
    return false;
}}

// backend

const char * ggml_backend_name(ggml_backend_t backend) {{
    if (backend == NULL) {{
        return "NULL";
    }}
    return backend->iface.get_name(backend);
}}

void ggml_backend_free(ggml_backend_t backend) {{
    if (backend == NULL) {{
        return;
    }}

    backend->iface.free(backend);
}}

GGML_CALL void ggml_backend_tensor_set(struct ggml_tensor * tensor, const void * data, size_t offset, size_t size) {{
    ggml_backend_buffer_t buf = tensor->view_src ? tensor->view_src->buffer : tensor->buffer;

    GGML_ASSERT(buf != NULL && "tensor buffer not set");
    GGML_ASSERT(tensor->data != NULL && "tensor not allocated");
    GGML_ASSERT(offset + size <= ggml_nbytes(tensor) && "tensor write out of bounds");

    if (!size) {{
        return;
    }}

    buf->iface.set_tensor(buf, tensor, data, offset, size);
}}

GGML_CALL void ggml_backend_tensor_get(const struct ggml_tensor * tensor, void * data, size_t offset, size_t size) {{
    ggml_backend_buffer_t buf = tensor->view_src ? tensor->view_src->buffer : tensor->buffer;

    GGML_ASSERT(buf != NULL && "tensor buffer not set");
    GGML_ASSERT(tensor->data != NULL && "tensor not allocated");
    GGML_ASSERT(offset + size <= ggml_nbytes(tensor) && "tensor read out of bounds");

    if (!size) {{
        return;
    }}

    // AMX buffers hold weights in the VNNI layout; reading them back as plain data is what asserts here
    buf->iface.get_tensor(buf, tensor, data, offset, size);
}}

void ggml_backend_synchronize(ggml_backend_t backend) {{
    if (backend->iface.synchronize == NULL) {{
        return;
    }}

    backend->iface.synchronize(backend);
}}

bool ggml_backend_supports_op(ggml_backend_t backend, const struct ggml_tensor * op) {{
    return backend->iface.supports_op(backend, op);
}}

bool ggml_backend_supports_buft(ggml_backend_t backend, ggml_backend_buffer_type_t buft) {{
    return backend->iface.supports_buft(backend, buft);
}}

bool ggml_backend_offload_op(ggml_backend_t backend, const struct ggml_tensor * op) {{
    if (backend->iface.offload_op != NULL) {{
        return backend->iface.offload_op(backend, op);
    }}
    return false;
}}

// backend copy

static bool ggml_are_same_layout(const struct ggml_tensor * a, const struct ggml_tensor * b) {{
    if (a->type != b->type) {{
        return false;
    }}
    for (int i = 0; i < GGML_MAX_DIMS; i++) {{
        if (a->ne[i] != b->ne[i]) {{
            return false;
        }}
        if (a->nb[i] != b->nb[i]) {{
            return false;
        }}
    }}
    return true;
}}

void ggml_backend_tensor_copy(struct ggml_tensor * src, struct ggml_tensor * dst) {{
    GGML_ASSERT(ggml_are_same_layout(src, dst) && "cannot copy tensors with different layouts");

    if (src == dst) {{
        return;
    }}

    if (ggml_backend_buffer_is_host(src->buffer)) {{
        ggml_backend_tensor_set(dst, src->data, 0, ggml_nbytes(src));
    }} else if (ggml_backend_buffer_is_host(dst->buffer)) {{
        ggml_backend_tensor_get(src, dst->data, 0, ggml_nbytes(src));
    }} else if (!ggml_backend_buffer_copy_tensor(src, dst)) {{
#ifndef NDEBUG
        fprintf(stderr, "%s: warning: slow copy from %s to %s\\n", __func__, ggml_backend_buffer_name(src->buffer), ggml_backend_buffer_name(dst->buffer));
#endif
        size_t nbytes = ggml_nbytes(src);
        void * data = malloc(nbytes);
        ggml_backend_tensor_get(src, data, 0, nbytes);
        ggml_backend_tensor_set(dst, data, 0, nbytes);
        free(data);
    }}
}}

void ggml_backend_tensor_copy_async(ggml_backend_t backend_src, ggml_backend_t backend_dst, struct ggml_tensor * src, struct ggml_tensor * dst) {{
    GGML_ASSERT(ggml_are_same_layout(src, dst) && "cannot copy tensors with different layouts");

    if (src == dst) {{
        return;
    }}

    if (backend_dst->iface.cpy_tensor_async != NULL) {{
        if (backend_dst->iface.cpy_tensor_async(backend_src, backend_dst, src, dst)) {{
            return;
        }}
    }}

    // no async path: wait for both backends, then copy synchronously
    ggml_backend_synchronize(backend_src);
    ggml_backend_synchronize(backend_dst);
    ggml_backend_tensor_copy(src, dst);
}}

// scheduler

#ifndef GGML_SCHED_MAX_BACKENDS
#define GGML_SCHED_MAX_BACKENDS 16
#endif

#define SET_CAUSE(node, ...)

struct ggml_backend_sched {{
    int n_backends;
    ggml_backend_t backends[GGML_SCHED_MAX_BACKENDS];
    ggml_backend_buffer_type_t bufts[GGML_SCHED_MAX_BACKENDS];
    bool op_offload;
    bool debug;
}};

// the highest-priority backend that can use the buffer the tensor lives in, and run the op
static int ggml_backend_sched_backend_from_buffer(ggml_backend_sched_t sched, const struct ggml_tensor * tensor, const struct ggml_tensor * op) {{
    ggml_backend_buffer_t buffer = tensor->view_src ? tensor->view_src->buffer : tensor->buffer;
    if (buffer == NULL) {{
        return -1;
    }}

    for (int i = 0; i < sched->n_backends; i++) {{
        if (ggml_backend_supports_buft(sched->backends[i], buffer->buft) &&
            ggml_backend_supports_op(sched->backends[i], op)) {{
            return i;
        }}
    }}

#ifndef NDEBUG
    fprintf(stderr, "%s: warning: no backend supports op %s with a weight in buffer %s (tensor %s); it will be copied\\n",
        __func__, ggml_op_name(op->op), ggml_backend_buffer_name(buffer), tensor->name);
#endif

    return -1;
}}

// ops the GPU may take from the CPU when the batch is large enough (it decides, in offload_op)
static bool ggml_backend_sched_offload_enabled(ggml_backend_sched_t sched, enum ggml_op op) {{
    return sched->op_offload && op != GGML_OP_NONE;
}}

// returns the backend that should run the node, based on where its inputs are
static int ggml_backend_sched_backend_id_from_cur(ggml_backend_sched_t sched, struct ggml_tensor * tensor) {{
    // pre-allocated tensors stay on their backend
    int cur_backend_id = ggml_backend_sched_backend_from_buffer(sched, tensor, tensor);
    if (cur_backend_id != -1) {{
        SET_CAUSE(tensor, "1.dst");
        return cur_backend_id;
    }}

    // graph inputs start on the last backend (the CPU)
    if (tensor->flags & GGML_TENSOR_FLAG_INPUT) {{
        SET_CAUSE(tensor, "1.inp");
        return sched->n_backends - 1;
    }}

    // operations with weights run, preferably, where the weights are
    bool offload_enabled = ggml_backend_sched_offload_enabled(sched, tensor->op);
    for (int i = 0; i < GGML_MAX_SRC; i++) {{
        const struct ggml_tensor * src = tensor->src[i];
        if (src == NULL) {{
            continue;
        }}
        if (src->buffer != NULL && src->buffer->usage == GGML_BACKEND_BUFFER_USAGE_WEIGHTS) {{
            int src_backend_id = ggml_backend_sched_backend_from_buffer(sched, src, tensor);
            // a backend with a higher priority may want the op (for a large batch): the weight is copied there
            if (offload_enabled && src_backend_id == sched->n_backends - 1) {{
                for (int b = 0; b < src_backend_id; b++) {{
                    if (ggml_backend_supports_op(sched->backends[b], tensor) && ggml_backend_offload_op(sched->backends[b], tensor)) {{
                        SET_CAUSE(tensor, "1.off");
                        return b;
                    }}
                }}
            }}
            SET_CAUSE(tensor, "1.wgt%d", i);
            return src_backend_id;
        }}
    }}

    return -1;
}}
"""  # noqa: E501

GGML_AMX_CPP = f"""\
// {STANDIN_NOTE}.
// Shaped like an AMX buffer type for the CPU backend: weights are repacked into the VNNI tile layout when they
// are loaded, so the buffer holds no plain copy of them and cannot be read back (get_tensor does nothing).

#include "ggml-backend-impl.h"
#include "ggml-impl.h"

#include <cstring>

static const char * ggml_backend_amx_buffer_type_get_name(ggml_backend_buffer_type_t buft) {{
    return "AMX";

    GGML_UNUSED(buft);
}}

static bool ggml_backend_amx_buffer_type_is_host(ggml_backend_buffer_type_t buft) {{
    // not host memory as far as other backends are concerned: its contents are in the VNNI layout
    return false;

    GGML_UNUSED(buft);
}}

static void ggml_backend_amx_buffer_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor * tensor, const void * data, size_t offset, size_t size) {{
    // repack the weight into VNNI tiles as it is loaded
    ggml_amx_repack(tensor, data, offset, size);

    GGML_UNUSED(buffer);
}}

static void ggml_backend_amx_buffer_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor * tensor, void * data, size_t offset, size_t size) {{
    // the VNNI layout cannot be turned back into the original tensor
    GGML_ASSERT(false && "AMX buffers cannot be read back");

    GGML_UNUSED(buffer);
    GGML_UNUSED(tensor);
    GGML_UNUSED(data);
    GGML_UNUSED(offset);
    GGML_UNUSED(size);
}}

ggml_backend_buffer_type_t ggml_backend_amx_buffer_type(void) {{
    static struct ggml_backend_buffer_type ggml_backend_buffer_type_amx = {{
        /* .iface = */ {{
            /* .get_name       = */ ggml_backend_amx_buffer_type_get_name,
            /* .alloc_buffer   = */ ggml_backend_amx_buffer_type_alloc_buffer,
            /* .get_alignment  = */ ggml_backend_amx_buffer_type_get_alignment,
            /* .get_max_size   = */ NULL,
            /* .get_alloc_size = */ ggml_backend_amx_buffer_type_get_alloc_size,
            /* .is_host        = */ ggml_backend_amx_buffer_type_is_host,
        }},
        /* .context = */ NULL,
    }};

    return &ggml_backend_buffer_type_amx;
}}
"""  # noqa: E501

GGML_CUDA_CU = f"""\
// {STANDIN_NOTE}.
// Shaped like ggml/src/ggml-cuda.cu around the CUDA buffer's cpy_tensor; everything else is trimmed away.

#include "ggml-cuda.h"
#include "ggml-backend-impl.h"
#include "ggml-cuda/common.cuh"

#include <cstdio>
#include <string>

struct ggml_backend_cuda_buffer_context {{
    int device;
    void * dev_ptr = nullptr;
    std::string name;

    ggml_backend_cuda_buffer_context(int device, void * dev_ptr) :
        device(device), dev_ptr(dev_ptr),
        name(GGML_CUDA_NAME + std::to_string(device)) {{
    }}

    ~ggml_backend_cuda_buffer_context() {{
        CUDA_CHECK(cudaFree(dev_ptr));
    }}
}};

GGML_CALL static const char * ggml_backend_cuda_buffer_get_name(ggml_backend_buffer_t buffer) {{
    ggml_backend_cuda_buffer_context * ctx = (ggml_backend_cuda_buffer_context *)buffer->context;
    return ctx->name.c_str();
}}

GGML_CALL static bool ggml_backend_buffer_is_cuda(ggml_backend_buffer_t buffer) {{
    return buffer->iface.get_name == ggml_backend_cuda_buffer_get_name;
}}

GGML_CALL static void ggml_backend_cuda_buffer_free_buffer(ggml_backend_buffer_t buffer) {{
    ggml_backend_cuda_buffer_context * ctx = (ggml_backend_cuda_buffer_context *)buffer->context;
    delete ctx;
}}

GGML_CALL static void * ggml_backend_cuda_buffer_get_base(ggml_backend_buffer_t buffer) {{
    ggml_backend_cuda_buffer_context * ctx = (ggml_backend_cuda_buffer_context *)buffer->context;
    return ctx->dev_ptr;
}}

GGML_CALL static void ggml_backend_cuda_buffer_set_tensor(ggml_backend_buffer_t buffer, ggml_tensor * tensor, const void * data, size_t offset, size_t size) {{
    ggml_backend_cuda_buffer_context * ctx = (ggml_backend_cuda_buffer_context *)buffer->context;

    ggml_cuda_set_device(ctx->device);
    CUDA_CHECK(cudaMemcpyAsync((char *)tensor->data + offset, data, size, cudaMemcpyHostToDevice, cudaStreamPerThread));
    CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
}}

GGML_CALL static void ggml_backend_cuda_buffer_get_tensor(ggml_backend_buffer_t buffer, const ggml_tensor * tensor, void * data, size_t offset, size_t size) {{
    ggml_backend_cuda_buffer_context * ctx = (ggml_backend_cuda_buffer_context *)buffer->context;

    ggml_cuda_set_device(ctx->device);
    CUDA_CHECK(cudaMemcpyAsync(data, (const char *)tensor->data + offset, size, cudaMemcpyDeviceToHost, cudaStreamPerThread));
    CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
}}

GGML_CALL static bool ggml_backend_cuda_buffer_cpy_tensor(ggml_backend_buffer_t buffer, const ggml_tensor * src, ggml_tensor * dst) {{
    if (ggml_backend_buffer_is_cuda(src->buffer)) {{
        ggml_backend_cuda_buffer_context * src_ctx = (ggml_backend_cuda_buffer_context *)src->buffer->context;
        ggml_backend_cuda_buffer_context * dst_ctx = (ggml_backend_cuda_buffer_context *)dst->buffer->context;
        if (src_ctx->device == dst_ctx->device) {{
            CUDA_CHECK(cudaMemcpyAsync(dst->data, src->data, ggml_nbytes(src), cudaMemcpyDeviceToDevice, cudaStreamPerThread));
        }} else {{
#ifdef GGML_CUDA_NO_PEER_COPY
            return false;
#else
            CUDA_CHECK(cudaMemcpyPeerAsync(dst->data, dst_ctx->device, src->data, src_ctx->device, ggml_nbytes(src), cudaStreamPerThread));
#endif
        }}
        CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
        return true;
    }}
    return false;

    GGML_UNUSED(buffer);
}}

GGML_CALL static void ggml_backend_cuda_buffer_clear(ggml_backend_buffer_t buffer, uint8_t value) {{
    ggml_backend_cuda_buffer_context * ctx = (ggml_backend_cuda_buffer_context *)buffer->context;

    ggml_cuda_set_device(ctx->device);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemset(ctx->dev_ptr, value, buffer->size));
    CUDA_CHECK(cudaDeviceSynchronize());
}}

static ggml_backend_buffer_i ggml_backend_cuda_buffer_interface = {{
    /* .get_name        = */ ggml_backend_cuda_buffer_get_name,
    /* .free_buffer     = */ ggml_backend_cuda_buffer_free_buffer,
    /* .get_base        = */ ggml_backend_cuda_buffer_get_base,
    /* .init_tensor     = */ NULL,
    /* .memset_tensor   = */ NULL,
    /* .set_tensor      = */ ggml_backend_cuda_buffer_set_tensor,
    /* .get_tensor      = */ ggml_backend_cuda_buffer_get_tensor,
    /* .cpy_tensor      = */ ggml_backend_cuda_buffer_cpy_tensor,
    /* .clear           = */ ggml_backend_cuda_buffer_clear,
    /* .reset           = */ NULL,
}};
"""  # noqa: E501


def _without(text: str, piece: str, replacement: str = "") -> str:
    """``text`` with ``piece`` replaced; the piece must be there (a guard against the stand-ins drifting apart)."""
    if piece not in text:
        raise AssertionError(f"stand-in source lost {piece[:40]!r}")
    return text.replace(piece, replacement, 1)


def _cpy_tensor_function() -> str:
    start = GGML_CUDA_CU.index("GGML_CALL static bool ggml_backend_cuda_buffer_cpy_tensor(")
    end = GGML_CUDA_CU.index("GGML_CALL static void ggml_backend_cuda_buffer_clear(")
    return GGML_CUDA_CU[start:end]


def _history() -> list[tuple[str, str, dict[str, str]]]:
    """(date, subject, files) of each commit, oldest first; each commit lists the files it writes."""
    cuda_before = _without(
        _without(GGML_CUDA_CU, _cpy_tensor_function()),
        "/* .cpy_tensor      = */ ggml_backend_cuda_buffer_cpy_tensor,",
        "/* .cpy_tensor      = */ NULL,",
    )
    cmake_before = _without(
        GGML_CMAKELISTS,
        "if (GGML_AMX)\n    list(APPEND GGML_SOURCES ggml-amx.cpp)\n"
        "    add_compile_definitions(GGML_USE_AMX)\nendif()\n\n",
    )
    return [
        (
            "2025-09-22T10:14:03+00:00",
            "ggml: backend buffers, scheduler and CUDA buffer (rehearsal stand-in)",
            {
                ".gitignore": f"# {STANDIN_NOTE}\n# the build output stays out of git\nbuild/\n",
                "README.md": README,
                "CMakeLists.txt": TOP_CMAKELISTS,
                "ggml/src/CMakeLists.txt": cmake_before,
                "ggml/src/ggml.c": GGML_C,
                "ggml/src/ggml-backend.cpp": GGML_BACKEND_CPP,
                "ggml/src/ggml-cuda.cu": cuda_before,
                "AMX_SESSION_CURRENT.md": SESSION_DOC,
            },
        ),
        (
            "2025-09-30T16:41:27+00:00",
            "Add AMX buffer type for hybrid CPU+GPU runs",
            {
                "ggml/src/CMakeLists.txt": GGML_CMAKELISTS,
                "ggml/src/ggml.c": GGML_C + AMX_C_ADDITION,
                "ggml/src/ggml-amx.cpp": GGML_AMX_CPP,
                "AMX_GPU_HYBRID_SCHEDULER_FIX.md": FIX_DOC,
            },
        ),
        (
            "2025-10-05T21:08:55+00:00",
            SUBJECT_HEAD,
            {
                "ggml/src/ggml-cuda.cu": GGML_CUDA_CU,
            },
        ),
    ]


def _launcher(path: Path, module: str, what: str) -> None:
    path.write_text(
        "#!/bin/sh\n"
        f"# amxwizard rehearsal stand-in for {what}: not the real program.\n"
        f'exec {shlex.quote(sys.executable)} -m {module} "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)


def _gguf_standin() -> bytes:
    """A valid GGUF v3 header with no tensors and one key, ``general.name``, saying what it is."""

    def gguf_string(text: str) -> bytes:
        raw = text.encode("utf-8")
        return struct.pack("<Q", len(raw)) + raw

    string_type = 8
    return (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + gguf_string("general.name")
        + struct.pack("<I", string_type)
        + gguf_string("amxwizard rehearsal stand-in model (not a model)")
    )


def _run(argv: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SandboxError(f"{what} failed in {cwd} (exit {result.returncode}): {last[0]}")


def _commit_all(repo_path: Path, history: list[tuple[str, str, dict[str, str]]]) -> str:
    import git  # GitPython, imported late: it is slow to import

    # Closed when done: an open Repo keeps `git cat-file` processes alive as long as the wizard runs.
    with git.Repo.init(repo_path, initial_branch="main") as repo:
        with repo.config_writer() as config:
            config.set_value("user", "name", _AUTHOR[0])
            config.set_value("user", "email", _AUTHOR[1])
            config.set_value("commit", "gpgsign", "false")
        actor = git.Actor(*_AUTHOR)
        for date, subject, files in history:
            for relative, content in files.items():
                target = repo_path / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
            repo.index.add(list(files))
            # index.commit: no hooks and no signing from the person's git config, which a sandbox must not trigger
            when = datetime.fromisoformat(date)
            repo.index.commit(subject, author=actor, committer=actor, author_date=when, commit_date=when)
        return repo.head.commit.hexsha


def default_jobs() -> str:
    """Build jobs and threads for the sandbox: this machine's CPUs, at most 8."""
    return str(max(1, min(os.cpu_count() or 1, 8)))


def build_sandbox(root: Path) -> Sandbox:
    """Make a rehearsal sandbox in ``root`` (which must be missing or empty) and build it once."""
    root = Path(root).expanduser().absolute()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise SandboxError(f"{root} is not an empty folder; choose a new one for the sandbox")
    repo, tools, models = root / "repo", root / "tools", root / "models"
    for folder in (repo, tools, models):
        folder.mkdir(parents=True, exist_ok=True)

    head = _commit_all(repo, _history())

    _launcher(tools / "cmake", "amxwizard.rehearsal.cmake_standin", "cmake")
    _launcher(tools / "numactl", "amxwizard.rehearsal.numactl_standin", "numactl")
    model = models / MODEL_NAME
    model.write_bytes(_gguf_standin())
    (root / "README.md").write_text(
        f"# amxwizard rehearsal\n\nBuilt {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC. {STANDIN_NOTE}.\n\n"
        "- `repo/`: the stand-in checkout (a git repository)\n"
        "- `tools/`: stand-in `cmake` and `numactl`\n"
        "- `models/`: a stand-in GGUF file\n"
        "- `state/`: the wizard's sessions for this rehearsal\n",
        encoding="utf-8",
    )

    # The runbook confines these two files to the root it declares for them (/tmp, as the original has them): they
    # go in the sandbox when it is there, else in a private folder of this sandbox's own under /tmp.
    tmp_root = Path(TMP_ROOT)
    scratch = (
        root if root.is_relative_to(tmp_root) else Path(tempfile.mkdtemp(prefix="amxwizard-rehearsal-", dir=tmp_root))
    )

    jobs = default_jobs()
    _run([str(tools / "cmake"), "-S", ".", "-B", "build"], repo, "configuring the stand-in build")
    _run([str(tools / "cmake"), "--build", "build", "-j", jobs], repo, "the first stand-in build")

    overrides = {
        "repo": str(repo),
        "model": str(model),
        "cmake": shlex.quote(str(tools / "cmake")),
        "numactl": f"{shlex.quote(str(tools / 'numactl'))} -N 2,3 -m 2,3",
        "amx_flag": "",  # today's builds enable AMX without a flag and reject --amx
        "fa_flag": "-fa on",  # and want a value after -fa
        "expected_commit": head[:8],
        "build_jobs": jobs,
        "threads": jobs,
        "backup_location_file": str(scratch / "backup-location.txt"),
        "diag_script": str(scratch / "amx_scheduler_diag_test.sh"),
    }
    return Sandbox(root, repo, model, tools, overrides, head)
