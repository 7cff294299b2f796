# communebot: the bot, its commune gazetteer and its migrations in one image.
#   docker build -t communebot .
#   docker run --rm -it communebot demo                   # console demo, no token, no network
#   docker run -d -v ./config.yaml:/config/config.yaml:ro -e TELEGRAM_TOKEN=… communebot
# Tested by deploy/test-image.sh (needs a Docker engine).

FROM python:3.11-slim AS build
WORKDIR /src
# only what the package needs: the wheel carries the gazetteer, migrations and locales
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY directory ./directory
COPY dialogs ./dialogs
COPY locales ./locales
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# every dependency has a wheel (Matrix encryption is vodozemac's, psycopg is [binary]):
# nothing to compile, no system package to add
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
RUN useradd --system --create-home --home-dir /data --uid 10001 communebot
USER communebot
WORKDIR /data
# the embedded SQLite file and the Matrix store live in /data unless the configuration
# says otherwise; PostgreSQL comes from COMMUNEBOT_DB (see compose.yaml)
VOLUME ["/data"]
ENV PYTHONUNBUFFERED=1
# asks /healthz with the configuration of the bot's own `run -c FILE` (PID 1); healthy
# while it runs when monitoring is disabled or the command is `demo`/`chat`
COPY deploy/healthcheck.py /usr/local/lib/communebot/healthcheck.py
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/communebot/healthcheck.py"]
ENTRYPOINT ["communebot"]
CMD ["run", "-c", "/config/config.yaml"]
