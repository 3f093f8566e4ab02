# bash completion for crest and BLCR's cr_checkpoint, cr_restart, cr_run.
# The options come from the commands' own --help, so they can't drift
# from what the installed crest accepts.

_crest_opts()
{
	"$1" --help 2>/dev/null | grep -oE -- '(^|[ ,])--?[a-zA-Z][-a-zA-Z0-9]*' |
		sed 's/^[ ,]*//' | sort -u
}

_crest()
{
	local cur prev cmd words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[0]##*/}

	case $prev in
	-D|--images-dir|--prev-images-dir|-o|--log-file|--file|-f|--pidfile|\
	--freeze-cgroup|--sign-key|--verify-key|--dest|--relocate)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	-t|--tree|--pid|--pgid|--sid|-p)
		COMPREPLY=($(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur"))
		return ;;
	esac
	if [ "$cmd" = crest ] && [ "$COMP_CWORD" -eq 1 ]; then
		words=$("${COMP_WORDS[0]}" --help 2>/dev/null |
			sed -n '/^commands:/,/^$/s/^  \([a-z][-a-z]*\).*/\1/p')
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_crest_opts "${COMP_WORDS[0]}")" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -F _crest crest cr_checkpoint cr_restart cr_run
