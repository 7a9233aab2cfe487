// Tests log only errors unless LOG_LEVEL says otherwise; failures still show the log lines.
process.env.LOG_LEVEL ??= 'error';
