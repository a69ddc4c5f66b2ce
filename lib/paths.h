/*
 * paths — where mcops looks when neither the command line nor the configuration
 * says: the defaults compiled into the programs. The configuration overrides each
 * (its [log] path, [monitor] state_file, [mcd] tenants, ...).
 *
 * A build from the checkout leaves both directories relative ("etc", "var"), so that
 * the programs, the demo and the tests run from the repository's root. An installed
 * build (`make install`, `make deb`) defines them as the Makefile's SYSCONFDIR and
 * STATEDIR (/etc/mcops and /var/lib/mcops), with -DMCOPS_SYSCONFDIR='"..."'.
 */
#ifndef MCOPS_PATHS_H
#define MCOPS_PATHS_H

#ifndef MCOPS_SYSCONFDIR
#define MCOPS_SYSCONFDIR "etc"
#endif
#ifndef MCOPS_STATEDIR
#define MCOPS_STATEDIR "var"
#endif

/* The configuration file, when neither -f nor $MCOPS_CONFIG names one. */
#define MCOPS_CONFIG_PATH MCOPS_SYSCONFDIR "/mcops.conf"
/* The tenants file of `mctl tenant`, when neither --file nor [mcd] tenants names one. */
#define MCOPS_TENANTS_PATH MCOPS_SYSCONFDIR "/tenants"
/* The incident log, when [log] path is not set. */
#define MCOPS_DB_PATH MCOPS_STATEDIR "/mcops.db"
/* mcmon's view for `mctl status`, when [monitor] state_file is not set. */
#define MCOPS_MONSTATE_PATH MCOPS_STATEDIR "/mcmon.json"

#endif
