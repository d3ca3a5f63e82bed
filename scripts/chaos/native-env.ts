import { loadPlatformEnv } from '../../loadtest/src/platform';

// Imported first by the chaos scenarios: native/.run/env into process.env (values already set
// win) before scripts/testing/native-services computes its ports from NATIVE_PORT_OFFSET and
// the *_PORT variables at import time. Without it a scenario run as a script would use the
// default ports, i.e. another checkout's platform.
loadPlatformEnv();
