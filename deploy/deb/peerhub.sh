#!/bin/sh
# peerhub command (Debian package): the agent and its CLI, run by Debian's nodejs.
exec /usr/bin/node /usr/lib/peerhub/dist/firmware/cli/main.js "$@"
