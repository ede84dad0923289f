from pmutop.cli.main import main

raise SystemExit(main())
