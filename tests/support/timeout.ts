// Integration suites start real processes; jest's per-project config ignores `testTimeout`.
jest.setTimeout(120_000);
