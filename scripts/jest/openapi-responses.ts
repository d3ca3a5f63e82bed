import { enableOpenApiCheck, openApiMismatches } from '../testing/openapi-check';

// Integration suites: every /v1 answer received through scripts/testing/exchange-client.ts (and
// the gateway int-spec's own client) is checked against the OpenAPI document of the gateway that
// answered; a suite with any mismatch fails here, listing them. OPENAPI_CHECK=0 turns it off,
// OPENAPI_CHECK_VERBOSE=1 prints how many answers each suite had checked.
enableOpenApiCheck(process.env.OPENAPI_CHECK !== '0');

afterAll(() => {
  const { checked, mismatches } = openApiMismatches();
  if (process.env.OPENAPI_CHECK_VERBOSE === '1')
    process.stderr.write(`OpenAPI check: ${checked} /v1 answers checked, ${mismatches.length} mismatches\n`);
  if (mismatches.length > 0)
    throw new Error(
      `${mismatches.length} /v1 answer(s) do not match the OpenAPI document:\n${mismatches.slice(0, 30).join('\n')}`,
    );
});
