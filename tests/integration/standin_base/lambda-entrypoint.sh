#!/bin/sh
# As the official image's /lambda-entrypoint.sh: the handler is the image's CMD; without a Runtime API to
# talk to (outside Lambda), the emulator starts in front of the runtime.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
