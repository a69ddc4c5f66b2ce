/*
 * incident_writer — opens or raises an incident in the log the way mcmon does (any
 * kind, a fingerprint, evidence), for tests of the consumers of the log.
 *
 *   incident_writer DB KIND CLUSTER NODE SEVERITY TITLE [EVIDENCE_JSON]
 *
 * The fingerprint is "KIND:CLUSTER". Prints the incident's id. Exit 1 on failure.
 */
#include <stdio.h>

#include "ilog.h"

int
main(int argc, char **argv)
{
	struct ilog_incident_spec spec = { 0 };
	struct ilog_upsert_result res;
	char err[ILOG_ERR_LEN], fp[ILOG_FINGERPRINT_MAX + 1];
	enum ilog_severity sev;
	struct ilog *log;

	if (argc < 7 || argc > 8 || ilog_severity_parse(argv[5], &sev) < 0) {
		fprintf(stderr, "usage: incident_writer DB KIND CLUSTER NODE minor|major|critical "
				"TITLE [EVIDENCE_JSON]\n");
		return 2;
	}
	if ((log = ilog_open(argv[1], NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "incident_writer: %s\n", err);
		return 1;
	}
	snprintf(fp, sizeof(fp), "%s:%s", argv[2], argv[3]);
	spec.fingerprint = fp;
	spec.kind = argv[2];
	spec.cluster = argv[3];
	spec.node = argv[4];
	spec.severity = sev;
	spec.title = argv[6];
	spec.evidence_json = argc == 8 ? argv[7] : NULL;
	if (ilog_incident_upsert(log, &spec, "mcmon", &res, err, sizeof(err)) != ILOG_OK) {
		fprintf(stderr, "incident_writer: %s\n", err);
		ilog_close(log);
		return 1;
	}
	printf("%lld\n", (long long)res.id);
	ilog_close(log);
	return 0;
}
